package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
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
    void outIsRequired() {
        assertEquals(MergevalCli.EXIT_BAD_INPUT, MergevalCli.run("toy-models"));
    }
}
