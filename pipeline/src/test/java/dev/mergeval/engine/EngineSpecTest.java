package dev.mergeval.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.sweep.SweepSpec;
import org.junit.jupiter.api.Test;

/** The {@code engine:} blocks of suites and sweep specs: defaults, and every bad field named by file and key. */
class EngineSpecTest {

    private static final String TASKS = """
            tasks:
              - name: harmful
                dataset: {kind: jsonl, path: h.jsonl}
                judge: %s
            """;

    private static String suiteError(String engine) {
        return assertThrows(BadInputException.class,
                () -> EvalSuite.parse(engine + "\n" + TASKS.formatted("refusal"), "s.yaml", null)).getMessage();
    }

    @Test
    void aSuiteWithoutABlockRunsInTheJvm() {
        EvalSuite s = EvalSuite.parse(TASKS.formatted("refusal"), "s.yaml", null);
        assertEquals(EngineSpec.DJL_ENGINE, s.engine());
    }

    @Test
    void anOpenAiBlockGetsItsDefaults() {
        EvalSuite s = EvalSuite.parse("engine: {kind: openai, base_url: 'http://127.0.0.1:8000/v1', model: m, "
                + "api_key_env: MY_KEY, timeout: 30}\n" + TASKS.formatted("refusal"), "s.yaml", null);
        EngineSpec e = s.engine();
        assertEquals("openai", e.kind());
        assertEquals("http://127.0.0.1:8000/v1", e.root());
        assertEquals("m", e.model());
        assertEquals("MY_KEY", e.apiKeyEnv());
        assertEquals(EngineSpec.DEFAULT_CONCURRENCY, e.concurrency());
        assertEquals(30.0, e.timeoutSeconds());
        assertEquals(EngineSpec.DEFAULT_MAX_RETRIES, e.maxRetries());
        assertEquals("http://127.0.0.1:8000/v1", new EngineSpec("openai", "http://127.0.0.1:8000/v1/", "m", null, 1,
                1, 0, null, 1).root(), "a trailing slash is dropped");
    }

    @Test
    void everyBadFieldIsNamedWithItsFile() {
        assertEquals("s.yaml: engine.kind: unknown engine 'vllm'; known: djl, openai",
                suiteError("engine: {kind: vllm}"));
        assertEquals("s.yaml: engine.base_url: only for kind openai (kind is djl)",
                suiteError("engine: {kind: djl, base_url: 'http://h/v1'}"));
        assertTrue(suiteError("engine: {kind: openai, base_url: 'ftp://h/v1'}")
                .startsWith("s.yaml: engine.base_url: expected an http(s) URL"));
        assertEquals("s.yaml: engine.concurrency: must be >= 1, got 0",
                suiteError("engine: {kind: openai, base_url: 'http://h/v1', concurrency: 0}"));
        assertEquals("s.yaml: engine.timeout: must be > 0 seconds, got 0.0",
                suiteError("engine: {kind: openai, base_url: 'http://h/v1', timeout: 0}"));
        assertEquals("s.yaml: engine.max_retries: must be >= 0, got -1",
                suiteError("engine: {kind: openai, base_url: 'http://h/v1', max_retries: -1}"));
        assertEquals("s.yaml: engine.api_key_env: not an environment variable name: 'my key'",
                suiteError("engine: {kind: openai, base_url: 'http://h/v1', api_key_env: 'my key'}"));
        assertTrue(suiteError("engine: {kind: openai, base_url: 'http://h/v1', launch: 'x {model} {port}'}")
                .contains("engine.launch"));
        String unknown = suiteError("engine: {kind: openai, base_urls: 'http://h/v1'}");
        assertTrue(unknown.startsWith("s.yaml:1: engine.base_urls: unknown key"), unknown);
    }

    @Test
    void aJudgeEngineServesTheJudgeModelUnderItsName() {
        EvalSuite s = EvalSuite.parse("""
                tasks:
                  - name: harmful
                    dataset: {kind: jsonl, path: h.jsonl}
                    judge: wildguard:allenai/wildguard
                    judge_engine: {kind: openai, base_url: 'http://127.0.0.1:9000/v1'}
                  - name: plain
                    dataset: {kind: jsonl, path: h.jsonl}
                    judge: wildguard:/models/wg
                """, "s.yaml", null);
        EngineSpec judge = s.tasks().get(0).judge().servedEngine();
        assertEquals("allenai/wildguard", judge.model(), "MODEL of wildguard:MODEL is the served name");
        assertEquals("http://127.0.0.1:9000/v1", judge.baseUrl());
        assertNull(s.tasks().get(1).judge().servedEngine(), "without a block the judge runs in the JVM");
        String e = assertThrows(BadInputException.class, () -> EvalSuite.parse("""
                tasks:
                  - name: harmful
                    dataset: {kind: jsonl, path: h.jsonl}
                    judge: keyword
                    judge_engine: {kind: openai, base_url: 'http://127.0.0.1:9000/v1'}
                """, "s.yaml", null)).getMessage();
        assertEquals("s.yaml: task 'harmful': tasks[0].judge_engine: its judge (keyword) runs no model to put on an"
                + " engine", e);
    }

    @Test
    void aSweepEngineMustLaunchItsServers() {
        String spec = """
                aligned: /m/a
                finetuned: [/m/f]
                grid: [{method: linear, ratios: [0.5]}]
                suite: /s.yaml
                metrics: {safety: h/refusal_rate, over_refusal: b/refusal_rate, task: t/exact_match}
                """;
        String e = assertThrows(BadInputException.class, () -> SweepSpec.parse(spec
                + "engine: {kind: openai, base_url: 'http://127.0.0.1:8000/v1', model: m}\n", "spec.yaml")).getMessage();
        assertTrue(e.startsWith("spec.yaml: engine.launch: required with kind openai in a sweep"), e);
        e = assertThrows(BadInputException.class, () -> SweepSpec.parse(spec
                + "engine: {kind: openai, launch: 'vllm serve --port {port}'}\n", "spec.yaml")).getMessage();
        assertTrue(e.startsWith("spec.yaml: engine.launch: the command must contain {model} and {port}"), e);
        SweepSpec ok = SweepSpec.parse(spec + "engine: {kind: openai, launch: 'vllm serve {model} --port {port}',"
                + " startup_timeout: 120}\n", "spec.yaml");
        assertEquals("vllm serve {model} --port {port}", ok.engineSpec().launch());
        assertEquals(120.0, ok.engineSpec().startupTimeoutSeconds());
        assertEquals(SweepSpec.parse(spec, "spec.yaml").engineSpec(), EngineSpec.DJL_ENGINE);
    }
}
