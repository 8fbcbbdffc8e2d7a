package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine options of {@code eval} and {@code judge}, refused on the driver with exit code 2 and one
 * line naming the option (or the suite's key), before any Spark session or output exists.
 */
class EngineOptionsTest {

    @TempDir
    Path dir;

    private record Run(int code, String err) {
    }

    private static Run run(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = MergevalCli.run(args);
            return new Run(code, buf.toString(StandardCharsets.UTF_8).strip());
        } finally {
            System.setErr(old);
        }
    }

    private Run eval(String... extra) {
        List<String> args = new ArrayList<>(List.of("eval", "--suite",
                ProjectLayout.root().resolve("conf/demo/suite.yaml").toString(), "--out", dir.resolve("out").toString()));
        args.addAll(List.of(extra));
        Run r = run(args.toArray(String[]::new));
        assertFalse(Files.exists(dir.resolve("out")), "a refused run writes nothing");
        return r;
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void serverOptionsNeedTheOpenAiEngine() {
        Run r = eval("--model", "m", "--base-url", "http://127.0.0.1:8000/v1");
        assertEquals(2, r.code());
        assertEquals("mergeval: error: --base-url needs --engine openai (models run in the JVM otherwise)", r.err());
        r = eval("--model", "m", "--engine", "vllm");
        assertEquals(2, r.code());
        assertEquals("mergeval: error: --engine: unknown engine 'vllm'; known: djl, openai", r.err());
    }

    @Test
    void everyEngineOptionIsChecked() {
        assertEquals("mergeval: error: --base-url: required with engine openai",
                eval("--engine", "openai", "--model", "m").err());
        assertEquals("mergeval: error: --model: the served model name is required with engine openai (or model: in"
                + " the suite's engine block)", eval("--engine", "openai", "--base-url", "http://h/v1").err());
        assertTrue(eval("--engine", "openai", "--model", "m", "--base-url", "h:8000").err()
                .startsWith("mergeval: error: --base-url: expected an http(s) URL"));
        assertEquals("mergeval: error: --concurrency: must be >= 1, got 0",
                eval("--engine", "openai", "--model", "m", "--base-url", "http://h/v1", "--concurrency", "0").err());
        assertEquals("mergeval: error: --timeout: must be > 0 seconds, got -1.0",
                eval("--engine", "openai", "--model", "m", "--base-url", "http://h/v1", "--timeout", "-1").err());
        assertEquals("mergeval: error: --max-retries: must be >= 0, got -2",
                eval("--engine", "openai", "--model", "m", "--base-url", "http://h/v1", "--max-retries", "-2").err());
        assertEquals("mergeval: error: --api-key-env: environment variable MERGEVAL_TEST_UNSET_KEY is not set",
                eval("--engine", "openai", "--model", "m", "--base-url", "http://h/v1", "--api-key-env",
                        "MERGEVAL_TEST_UNSET_KEY").err());
    }

    @Test
    void anUnreachableServerIsNamedBeforeAnyWork() throws IOException {
        String url = "http://127.0.0.1:" + closedPort() + "/v1";
        Run r = eval("--engine", "openai", "--model", "m", "--base-url", url, "--max-retries", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("mergeval: error: engine " + url + ": GET " + url + "/models: cannot connect"),
                r.err());
    }

    @Test
    void aSuiteEngineBlockIsCheckedAndNamed() throws IOException {
        Path suite = dir.resolve("suite.yaml");
        Files.writeString(suite, Files.readString(ProjectLayout.root().resolve("conf/demo/suite.yaml"))
                .replace("../../data/toy/", ProjectLayout.root().resolve("data/toy") + "/")
                + "engine: {kind: openai, base_url: 'http://127.0.0.1:1/v1', concurrency: -3}\n");
        Run r = run("eval", "--suite", suite.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertEquals("mergeval: error: " + suite + ": engine.concurrency: must be >= 1, got -3", r.err());
    }

    @Test
    void aRuleJudgeTakesNoEngine() throws IOException {
        Path in = dir.resolve("c.jsonl");
        Files.writeString(in, "{\"prompt\":\"p\",\"completion\":\"c\"}\n");
        Run r = run("judge", "--input", in.toString(), "--judge", "keyword", "--out", dir.resolve("j").toString(),
                "--engine", "openai", "--base-url", "http://127.0.0.1:1/v1");
        assertEquals(2, r.code());
        assertEquals("mergeval: error: --engine: judge 'keyword' runs no model, so it takes no engine", r.err());
    }
}
