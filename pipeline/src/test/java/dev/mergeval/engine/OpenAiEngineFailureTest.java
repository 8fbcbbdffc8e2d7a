package dev.mergeval.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.eval.TaskRunner;
import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.runtime.ModelRequestException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a request that keeps failing becomes: a connection refused by a loopback port nobody listens
 * on is retried {@code max_retries} times, then recorded on the prompt's record (unparseable, the
 * error in {@code judge_output}) and counted apart by the metrics, never dropped or scored as a zero.
 */
class OpenAiEngineFailureTest {

    @TempDir
    Path dir;

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private EngineSpec engine(int retries) throws IOException {
        return new EngineSpec(EngineSpec.OPENAI, "http://127.0.0.1:" + closedPort() + "/v1", "served", null, 2, 5,
                retries, null, 5);
    }

    @Test
    void aRequestThatKeepsFailingIsRetriedThenRecordedPerRecord() throws IOException {
        Files.writeString(dir.resolve("h.jsonl"), "{\"id\":\"a\",\"prompt\":\"one\"}\n{\"id\":\"b\",\"prompt\":\"two\"}\n");
        EvalSuite suite = EvalSuite.parse("""
                tasks:
                  - name: harmful
                    dataset: {kind: jsonl, path: h.jsonl}
                    judge: refusal
                    chat_template: false
                  - name: task
                    dataset: {kind: jsonl, path: t.jsonl}
                    scorer: exact_match
                    chat_template: false
                """, "s.yaml", dir.toString());
        Files.writeString(dir.resolve("t.jsonl"), "{\"id\":\"c\",\"prompt\":\"x\",\"answer\":\"y\"}\n");
        try (OpenAiLanguageModel model = new OpenAiLanguageModel(engine(1))) {
            List<EvalExample> items = List.of(new EvalExample("a", "one", null, "all", List.of(), Map.of()),
                    new EvalExample("b", "two", null, "all", List.of(), Map.of()));
            List<PromptRecord> records = TaskRunner.run(model, suite.tasks().get(0), items,
                    suite.tasks().get(0).judge().ruleJudge());
            assertEquals(2, records.size(), "no record is dropped");
            for (PromptRecord r : records) {
                assertFalse(r.parseable());
                assertNull(r.refused());
                assertTrue(r.judgeOutput().startsWith(TaskRunner.ENGINE_ERROR), r.judgeOutput());
                assertTrue(r.judgeOutput().contains("cannot connect") && r.judgeOutput().contains("after 2 attempts"),
                        r.judgeOutput());
                assertTrue(r.outcomes().containsKey(PromptRecord.REFUSAL_RATE));
                assertNull(r.outcomes().get(PromptRecord.REFUSAL_RATE));
                assertEquals("served", r.model());
            }
            assertEquals(2, model.client().retries(), "one retry per request");
            MetricRow all = MetricsAggregator.aggregate(records).stream()
                    .filter(m -> m.category().equals(MetricRow.ALL)).findFirst().orElseThrow();
            assertEquals(2, all.n());
            assertEquals(2, all.unparseable(), "counted apart, not as compliance");

            List<PromptRecord> scored = TaskRunner.run(model, suite.tasks().get(1),
                    List.of(new EvalExample("c", "x", "y", "all", List.of(), Map.of())), null);
            assertNull(scored.get(0).outcomes().get("exact_match"));
            assertTrue(scored.get(0).outcomes().containsKey("contains"));
        }
    }

    @Test
    void anUnreachableServerIsBadInputBeforeAnyWork() throws IOException {
        EngineSpec e = engine(0);
        String message = assertThrows(BadInputException.class, () -> new OpenAiClient(e).requireModel()).getMessage();
        assertTrue(message.startsWith("engine " + e.root() + ": GET " + e.root() + "/models: cannot connect"), message);
        assertThrows(ModelRequestException.class, () -> new OpenAiClient(e).models());
    }

    @Test
    void anApiKeyVariableThatIsNotSetIsNamed() {
        EngineSpec e = new EngineSpec(EngineSpec.OPENAI, "http://127.0.0.1:1/v1", "m", "MERGEVAL_TEST_UNSET_KEY", 1, 1,
                0, null, 1);
        assertEquals("--api-key-env: environment variable MERGEVAL_TEST_UNSET_KEY is not set",
                assertThrows(BadInputException.class, () -> e.requireServer(null)).getMessage());
    }
}
