package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.cluster.ProjectLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mergeval toy-models} argument handling (the build itself is tested in the pipeline module). */
class ToyModelsCommandTest {

    @Test
    void aBaseWithoutModelFilesIsBadInputAndWritesNoModels(@TempDir Path tmp) throws Exception {
        Path base = Files.createDirectories(tmp.resolve("not-a-model"));
        int code = MergevalCli.run("toy-models", "--out", tmp.resolve("out").toString(), "--base", base.toString());
        assertEquals(MergevalCli.EXIT_BAD_INPUT, code);
        assertFalse(Files.exists(tmp.resolve("out/models")));
    }

    @Test
    void aModelAlreadyThereIsKeptUnlessOverwriteIsGiven(@TempDir Path tmp) throws Exception {
        Path mine = Files.createDirectories(tmp.resolve("out/models/toy/aligned")).resolve("notes.txt");
        Files.writeString(mine, "mine");
        Path base = ProjectLayout.root().resolve("models/toy/aligned");
        int code = MergevalCli.run("toy-models", "--out", tmp.resolve("out").toString(), "--base", base.toString(),
                "--only", "aligned");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, code);
        assertEquals("mine", Files.readString(mine));
        try (var left = Files.list(tmp.resolve("out"))) {
            assertEquals(List.of("models"), left.map(p -> p.getFileName().toString()).toList(), "nothing written");
        }
        Path file = Files.writeString(Files.createDirectories(tmp.resolve("out2/models/toy")).resolve("aligned"), "mine");
        code = MergevalCli.run("toy-models", "--out", tmp.resolve("out2").toString(), "--base", base.toString(),
                "--only", "aligned", "--overwrite");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, code);
        assertEquals("mine", Files.readString(file), "a file where a model goes is kept, --overwrite or not");
    }

    @Test
    void anOutputThatIsOrIsUnderAFileAndAnEmptyOnlyAreBadInput(@TempDir Path tmp) throws Exception {
        Path base = ProjectLayout.root().resolve("models/toy/aligned");
        Path file = Files.writeString(tmp.resolve("afile"), "mine");
        for (Path out : List.of(file, file.resolve("sub"))) {
            CliRun r = CliRun.of("toy-models", "--out", out.toString(), "--base", base.toString(), "--only", "aligned");
            assertEquals(MergevalCli.EXIT_BAD_INPUT, r.rc(), r.err());
            assertTrue(r.err().contains(out + ": output location is"), r.err());
        }
        assertEquals("mine", Files.readString(file));
        CliRun none = CliRun.of("toy-models", "--out", tmp.resolve("o").toString(), "--base", base.toString(), "--only", ",");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, none.rc(), none.err());
        assertTrue(none.err().contains("--only names no model"), none.err());
        assertFalse(Files.exists(tmp.resolve("o")));
    }

    @Test
    void outIsRequired() {
        assertEquals(MergevalCli.EXIT_BAD_INPUT, MergevalCli.run("toy-models"));
    }
}
