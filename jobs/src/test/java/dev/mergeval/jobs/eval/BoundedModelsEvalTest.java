package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A many-model eval on local[2] (two task threads sharing one executor cache) with counted test
 * models: never more than {@value ExecutorModels#CONF_MODELS_PER_DEVICE} models open at once, a
 * task's judge model held next to its evaluated model does not deadlock the bound of 1, and every
 * model is closed at the end.
 */
class BoundedModelsEvalTest {

    static final int MODELS = 8;

    private static SparkSession spark;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().config(SparkTestConf.local("BoundedModelsEvalTest", 2)).getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
        ExecutorModels.closeAll();
    }

    private static Path suite(String name, String judge) throws IOException {
        Path data = ProjectLayout.root().resolve("data/toy");
        Path suite = dir.resolve(name + ".yaml");
        Files.writeString(suite, String.join("\n",
                "name: " + name,
                "tasks:",
                "  - {name: harmful, dataset: {kind: jsonl, path: " + data.resolve("heldout-harmful.jsonl")
                        + "}, judge: " + judge + ", limit: 12}",
                "  - {name: task, dataset: {kind: jsonl, path: " + data.resolve("heldout-task.jsonl")
                        + "}, scorer: exact_match, limit: 8}",
                ""));
        return suite;
    }

    private static EvalJob.Summary run(Path suite, int perDevice, String out) {
        ExecutorModels.closeAll();
        CountingModelFactory.reset();
        spark.conf().set(ExecutorModels.CONF_MODELS_PER_DEVICE, Integer.toString(perDevice));
        List<ModelSource> models = IntStream.range(0, MODELS)
                .<ModelSource>mapToObj(i -> new ModelSource.Directory("model" + i)).toList();
        return assertTimeoutPreemptively(Duration.ofMinutes(2), () -> EvalJob.run(spark,
                new EvalJobConfig(models, suite.toString(), dir.resolve(out).toString(), -1, 4),
                new CountingModelFactory(), false));
    }

    private static void assertAllClosedAtTheEnd(EvalJob.Summary s) {
        assertEquals(CountingModelFactory.LOADS.get(), s.modelLoads());
        ExecutorModels.closeAll();
        assertEquals(0, CountingModelFactory.OPEN.get(), "every model closed");
        assertEquals(0, CountingModelFactory.DOUBLE_CLOSES.get());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void neverHoldsMoreThanTheBound(int perDevice) throws IOException {
        EvalJob.Summary s = run(suite("plain", "keyword"), perDevice, "plain" + perDevice);
        assertEquals(MODELS * (12 + 8), s.records());
        assertTrue(CountingModelFactory.PEAK.get() <= perDevice,
                "peak " + CountingModelFactory.PEAK.get() + " open models with a bound of " + perDevice);
        assertTrue(s.modelLoads() >= MODELS);
        assertTrue(CountingModelFactory.OPEN.get() <= perDevice, "idle models stay cached up to the bound");
        assertAllClosedAtTheEnd(s);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void aJudgeModelNextToTheEvaluatedModelDoesNotDeadlock(int perDevice) throws IOException {
        EvalJob.Summary s = run(suite("judged", "llamaguard3:judge-model"), perDevice, "judged" + perDevice);
        assertEquals(MODELS * (12 + 8), s.records());
        // Each of the two task threads may hold one nested (judge) lease beyond the bound.
        assertTrue(CountingModelFactory.PEAK.get() <= perDevice + 2,
                "peak " + CountingModelFactory.PEAK.get() + " open models with a bound of " + perDevice);
        assertTrue(CountingModelFactory.OPEN.get() <= perDevice, "the excess is closed when released");
        assertAllClosedAtTheEnd(s);
    }
}
