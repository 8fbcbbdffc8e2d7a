package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mergeval bench-eval} on the real stories260K model and AdvBench, on a small slice. */
class BenchEvalCommandTest {

    @TempDir
    Path dir;

    private static Path shared() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("shared/models/stories260K/model.safetensors"))
                    && Files.isRegularFile(p.resolve("shared/data/advbench/harmful_behaviors.csv"))) {
                return p.resolve("shared");
            }
        }
        assumeTrue(false, "../shared (stories260K, AdvBench) not found: skipping bench-eval test");
        return null;
    }

    private static String[] run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = MergevalCli.run(args);
            return new String[] {String.valueOf(code), buf.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void comparesMastersWithOneModelLoadPerRun() {
        Path shared = shared();
        String[] r = run("bench-eval", "--model", shared.resolve("models/stories260K").toString(),
                "--advbench", shared.resolve("data/advbench/harmful_behaviors.csv").toString(),
                "--limit", "6", "--slice-size", "2", "--max-new-tokens", "4", "--warmup", "0",
                "--work", dir.toString());
        assertEquals("0", r[0], r[1]);
        for (String master : List.of("local[1]", "local[2]")) {
            String line = r[1].lines().filter(l -> l.startsWith(master + " ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no row for " + master + ":\n" + r[1]));
            String[] f = line.trim().split("\\s+");
            assertEquals(master.substring(6, 7), f[1], "cores: " + line);
            assertEquals("6", f[2], "prompts: " + line);
            assertEquals("3", f[3], "units: " + line);
            // One local executor, one model: one load.
            assertEquals("1", f[6], "model loads: " + line);
            assertTrue(Double.parseDouble(f[5]) > 0, "prompts/s: " + line);
        }
        assertTrue(Files.isRegularFile(dir.resolve("run-1/out/records.jsonl")));
    }

    @Test
    void rejectsANonPositiveLimit() {
        assertEquals("2", run("bench-eval", "--model", "m", "--advbench", "a.csv", "--limit", "0")[0]);
    }
}
