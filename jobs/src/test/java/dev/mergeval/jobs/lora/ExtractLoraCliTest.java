package dev.mergeval.jobs.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.jobs.cli.CliRun;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mergeval extract-lora} and {@code mergeval scale-lora} through the real CLI: Spark
 * ({@code local[2]}, one task per tensor) writes the same adapter bytes as the threads of one JVM, the
 * provenance names the executor, and bad input is exit 2 with one line and nothing written.
 */
class ExtractLoraCliTest {

    @TempDir
    Path work;

    final Path root = ProjectLayout.root();
    final String ft = root.resolve("models/toy/finetuned").toString();
    final String base = root.resolve("models/toy/aligned").toString();

    /** Stderr without log lines and the progress bar (equal models are found only after reading them). */
    private static List<String> errorLines(String err) {
        return err.lines().filter(l -> !l.matches("[0-9:.]+ (WARN|INFO) .*") && !l.isBlank()
                && !l.startsWith("extract-lora ")).toList();
    }

    @Test
    void sparkAndThreadsWriteTheSameAdapter() throws IOException {
        Path threads = work.resolve("threads");
        Path spark = work.resolve("spark");
        assertEquals(0, CliRun.of("extract-lora", "--model", ft, "--base-model", base, "--max-rank", "6", "--svd",
                "randomized", "--threads", "2", threads.toString()).rc());
        // mergekit-extract-lora's --out-path names the same directory.
        assertEquals(0, CliRun.of("extract-lora", "--model", ft, "--base-model", base, "--max-rank", "6", "--svd",
                "randomized", "--master", "local[2]", "--out-path", spark.toString()).rc());
        assertArrayEquals(Files.readAllBytes(threads.resolve("adapter_model.safetensors")),
                Files.readAllBytes(spark.resolve("adapter_model.safetensors")));
        assertEquals(Files.readString(threads.resolve("adapter_config.json")),
                Files.readString(spark.resolve("adapter_config.json")));
        JsonNode prov = Mappers.JSON.readTree(Files.readString(spark.resolve("mergeval_provenance.json")));
        assertEquals("spark(local[2])", prov.get("executor").asText());
        assertEquals(35, prov.get("modules").size());
        assertTrue(prov.get("totals").get("relative_error").asDouble() > 0);

        Path half = work.resolve("half");
        assertEquals(0, CliRun.of("scale-lora", "--adapter", spark.toString(), "--ratio", "0.5", half.toString()).rc());
        JsonNode cfg = Mappers.JSON.readTree(Files.readString(half.resolve("adapter_config.json")));
        assertEquals(3.0, cfg.get("lora_alpha").asDouble(), 0, "r = 6, lora_alpha = 0.5 * 6");
        assertArrayEquals(Files.readAllBytes(spark.resolve("adapter_model.safetensors")),
                Files.readAllBytes(half.resolve("adapter_model.safetensors")), "factors copied as they are");
    }

    @Test
    void badInputIsOneLineAndWritesNothing() throws IOException {
        Path out = work.resolve("out");
        Path tiny = root.resolve("models/toy/finetuned/config.json");
        for (String[] args : List.of(
                new String[] {"extract-lora", "--model", ft, "--base-model", base, "--max-rank", "0", out.toString()},
                new String[] {"extract-lora", "--model", work.resolve("nope").toString(), "--base-model", base,
                        "--max-rank", "4", out.toString()},
                new String[] {"extract-lora", "--model", ft, "--base-model", base, "--max-rank", "4", "--svd", "fast",
                        out.toString()},
                new String[] {"extract-lora", "--model", base, "--base-model", base, "--max-rank", "4", out.toString()},
                new String[] {"extract-lora", "--model", tiny.toString(), "--base-model", base, "--max-rank", "4",
                        out.toString()},
                new String[] {"extract-lora", "--model", ft, "--base-model", base, "--max-rank", "4"},
                new String[] {"extract-lora", "--model", ft, "--base-model", base, "--max-rank", "4", "--out-path",
                        out.toString(), out.toString()},
                new String[] {"scale-lora", "--adapter", work.resolve("nope").toString(), "--ratio", "0.5",
                        out.toString()})) {
            CliRun r = CliRun.of(args);
            assertEquals(2, r.rc(), String.join(" ", args) + ": " + r.err());
            List<String> lines = errorLines(r.err());
            assertEquals(1, lines.size(), r.err());
            assertTrue(lines.get(0).startsWith("mergeval: error: "), r.err());
        }
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(work)) {
            assertEquals(0, s.count(), "no staging directory left");
        }
        Path occupied = work.resolve("occupied");
        Files.createDirectories(occupied);
        Files.writeString(occupied.resolve("mine.txt"), "keep");
        CliRun r = CliRun.of("extract-lora", "--model", ft, "--base-model", base, "--max-rank", "4",
                occupied.toString());
        assertEquals(2, r.rc());
        assertTrue(errorLines(r.err()).get(0).contains("--overwrite"), r.err());
        assertEquals("keep", Files.readString(occupied.resolve("mine.txt")));
    }
}
