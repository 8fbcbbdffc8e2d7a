package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

class OutputPublisherTest {

    @TempDir
    java.nio.file.Path tmp;

    /** The local filesystem, recording renames and failing the ones it is told to. */
    static final class RecordingFs extends RawLocalFileSystem {
        final List<String> renames = new ArrayList<>();
        String failWhenSourceContains;

        RecordingFs() throws IOException {
            initialize(URI.create("file:///"), new Configuration());
        }

        @Override
        public boolean rename(Path src, Path dst) throws IOException {
            if (failWhenSourceContains != null && src.toString().contains(failWhenSourceContains)) {
                throw new IOException("injected rename failure for " + src);
            }
            renames.add(src.getName() + " -> " + dst.getName());
            return super.rename(src, dst);
        }
    }

    private static void writeOutput(java.nio.file.Path dir, String content) throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("model.safetensors"), content);
        Files.writeString(dir.resolve("sub/extra.txt"), content);
        Files.writeString(dir.resolve(OutputPublisher.PROVENANCE_FILE), "{\"run\":\"" + content + "\"}");
    }

    private List<String> hiddenLeftovers() throws IOException {
        try (Stream<java.nio.file.Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    @ParameterizedTest(name = "atomicRename={0}")
    @ValueSource(booleans = {true, false})
    void publishRefusesToOverwriteThenOverwrites(boolean atomic) throws IOException {
        RecordingFs fs = new RecordingFs();
        OutputPublisher pub = new OutputPublisher(fs, atomic);
        String out = tmp.resolve("out").toString();
        Path s1 = pub.stage(out);
        assertTrue(s1.getName().startsWith(".out.mergeval-staging-"), s1.getName());
        assertEquals(tmp, java.nio.file.Path.of(s1.getParent().toUri()), "staging is a sibling");
        writeOutput(java.nio.file.Path.of(s1.toUri()), "first");
        pub.publish(s1, pub.outputPath(out), false);
        assertEquals("first", Files.readString(tmp.resolve("out/sub/extra.txt")));
        assertEquals(List.of(), hiddenLeftovers());

        Path s2 = pub.stage(out);
        writeOutput(java.nio.file.Path.of(s2.toUri()), "second");
        BadInputException e = assertThrows(BadInputException.class,
                () -> pub.publish(s2, pub.outputPath(out), false));
        assertTrue(e.getMessage().contains("--overwrite") && e.getMessage().contains("out"));
        assertTrue(e.getMessage().endsWith("; this run's complete output is left in " + s2
                + " (move it into place by hand, or delete it)"), e.getMessage());
        assertEquals("second", Files.readString(java.nio.file.Path.of(s2.toUri()).resolve("model.safetensors")),
                "a run that finished after another published keeps its result where the message says");
        assertEquals("first", Files.readString(tmp.resolve("out/model.safetensors")));

        pub.publish(s2, pub.outputPath(out), true);
        assertEquals("second", Files.readString(tmp.resolve("out/model.safetensors")));
        assertEquals("second", Files.readString(tmp.resolve("out/sub/extra.txt")));
        assertEquals(List.of(), hiddenLeftovers(), "no staging or set-aside directory left");
        if (!atomic) {
            List<String> r = fs.renames;
            assertTrue(r.get(r.size() - 1).startsWith(OutputPublisher.PROVENANCE_FILE + " -> "),
                    "marker moved last: " + r);
            int firstOldMove = -1;
            for (int i = 0; i < r.size() && firstOldMove < 0; i++) {
                if (r.get(i).startsWith("out -> ") || r.get(i).startsWith(OutputPublisher.PROVENANCE_FILE
                        + " -> .out.mergeval-old-")) {
                    firstOldMove = i;
                }
            }
            assertTrue(firstOldMove >= 0 && r.get(firstOldMove).startsWith(
                    OutputPublisher.PROVENANCE_FILE), "old marker moved away before the old files: " + r);
        }
    }

    @ParameterizedTest(name = "atomicRename={0}")
    @ValueSource(booleans = {true, false})
    void failedPublishLeavesTheOldOutputIntact(boolean atomic) throws IOException {
        RecordingFs fs = new RecordingFs();
        OutputPublisher pub = new OutputPublisher(fs, atomic);
        String out = tmp.resolve("out").toString();
        writeOutput(tmp.resolve("out"), "old");
        Path staging = pub.stage(out);
        writeOutput(java.nio.file.Path.of(staging.toUri()), "new");
        fs.failWhenSourceContains = "mergeval-staging";
        assertThrows(UncheckedIOException.class, () -> pub.publish(staging, pub.outputPath(out), true));
        assertEquals("old", Files.readString(tmp.resolve("out/model.safetensors")));
        assertEquals("old", Files.readString(tmp.resolve("out/sub/extra.txt")));
        assertTrue(Files.isRegularFile(tmp.resolve("out").resolve(OutputPublisher.PROVENANCE_FILE)),
                "old output still carries its marker");
        assertFalse(hiddenLeftovers().stream().anyMatch(n -> n.contains("mergeval-old")));
    }

    @Test
    void unfinishedStagingIsNeverPublished() throws IOException {
        RecordingFs fs = new RecordingFs();
        OutputPublisher pub = new OutputPublisher(fs);
        String out = tmp.resolve("out").toString();
        Path staging = pub.stage(out);
        Files.writeString(java.nio.file.Path.of(staging.toUri()).resolve("model.safetensors"), "x");
        assertThrows(IllegalStateException.class, () -> pub.publish(staging, pub.outputPath(out), true));
        assertFalse(Files.exists(tmp.resolve("out")));
        pub.discard(staging);
        assertEquals(List.of(), hiddenLeftovers());
    }

    @Test
    void emptyDirectoryIsNotACompleteOutput() throws IOException {
        OutputPublisher pub = OutputPublisher.forPath(tmp.toString(), new Configuration());
        Files.createDirectories(tmp.resolve("empty"));
        Path out = pub.outputPath(tmp.resolve("empty").toString());
        assertFalse(pub.isCompleteOutput(out));
        pub.checkDestination(out, false);
        Files.writeString(tmp.resolve("empty/user-file.txt"), "mine");
        assertTrue(pub.isCompleteOutput(out), "a non-empty directory is protected");
        assertThrows(BadInputException.class, () -> pub.checkDestination(out, false));
        Path staging = pub.stage(tmp.resolve("fresh").toString());
        writeOutput(java.nio.file.Path.of(staging.toUri()), "v");
        Files.createDirectories(tmp.resolve("fresh"));
        pub.publish(staging, pub.outputPath(tmp.resolve("fresh").toString()), false);
        assertEquals("v", Files.readString(tmp.resolve("fresh/model.safetensors")));
    }
}
