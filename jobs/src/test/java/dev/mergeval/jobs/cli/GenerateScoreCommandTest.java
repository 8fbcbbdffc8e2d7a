package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code mergeval generate} and {@code mergeval score} on the real stories260K model. */
class GenerateScoreCommandTest {

    private static Path stories() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            Path dir = p.resolve("shared/models/stories260K");
            if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
                return dir;
            }
        }
        assumeTrue(false, "../shared/models/stories260K not found: skipping CLI test on the real model");
        return null;
    }

    /** Runs the CLI, returning exit code and stdout. */
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
    void generatePlainPrintsPromptAndGreedyContinuation() throws Exception {
        Path dir = stories();
        String[] r = run("generate", "--model", dir.toString(), "--prompt", "Once upon a time", "--max-new-tokens", "60");
        assertEquals("0", r[0]);
        String reference = Files.readString(dir.resolve("reference/greedy_once_upon_a_time_64steps.txt"));
        // 60 new tokens after BOS + 4 prompt tokens: the same text as run.c's 64 positions
        assertEquals(reference, r[1]);
    }

    @Test
    void generateJsonHasIdsAndText() throws Exception {
        String[] r = run("generate", "--model", stories().toString(), "--prompt", "Lily", "--max-new-tokens", "12",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "3", "--repetition-penalty", "1.2", "--json");
        assertEquals("0", r[0]);
        JsonNode o = new ObjectMapper().readTree(r[1]);
        assertEquals(1, o.get("prompt_ids").get(0).asInt());
        assertEquals(12, o.get("output_ids").size());
        assertTrue(o.get("text").asText().length() > 0);
        String[] again = run("generate", "--model", stories().toString(), "--prompt", "Lily", "--max-new-tokens", "12",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "3", "--repetition-penalty", "1.2", "--json");
        assertEquals(r[1], again[1], "same seed, same sample");
    }

    @Test
    void scoreReportsLikelihoodTokensAndGreedy() throws Exception {
        String[] r = run("score", "--model", stories().toString(), "--context", "Once upon a time",
                "--continuation", ", there was a little girl", "--json");
        assertEquals("0", r[0]);
        JsonNode o = new ObjectMapper().readTree(r[1]);
        assertTrue(o.get("greedy").asBoolean());
        assertTrue(o.get("log_likelihood").asDouble() < 0);
        assertTrue(o.get("token_count").asInt() > 0);
        assertEquals(", there was a little girl".length(), o.get("char_length").asInt());
    }

    @Test
    void missingModelIsBadInput() {
        String[] r = run("generate", "--model", "/nonexistent/model", "--prompt", "x");
        assertEquals(String.valueOf(MergevalCli.EXIT_BAD_INPUT), r[0]);
    }
}
