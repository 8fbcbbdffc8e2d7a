package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.Sha256;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.LocalEvaluation;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.EvalProvenance;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark fan-out on local[2] with a rule-based test double for the model: the job's records and
 * metrics must equal a local run's (latency aside), and each model is loaded once per JVM.
 */
class EvalJobTest {

    private static SparkSession spark;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().appName("EvalJobTest").master("local[2]")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.warehouse.dir", System.getProperty("java.io.tmpdir") + "/mergeval-eval-warehouse")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
        ExecutorModels.closeAll();
    }

    private static Path shared() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("shared/data"))) {
                return p.resolve("shared");
            }
        }
        return null;
    }

    private static PromptRecord withoutLatency(PromptRecord r) {
        return new PromptRecord(r.model(), r.task(), r.promptId(), r.category(), r.prompt(), r.completion(), r.judge(),
                r.refused(), r.harmful(), r.parseable(), r.judgeOutput(), r.outcomes(), r.promptTokens(),
                r.completionTokens(), 0.0);
    }

    @Test
    void sparkRunEqualsLocalRunAndLoadsEachModelOnce() throws IOException {
        Path shared = shared();
        assumeTrue(shared != null, "skipped: no shared/ directory above the working directory");
        Path suite = dir.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: smoke",
                "seed: 3",
                "tasks:",
                "  - {name: adv, dataset: {kind: advbench, path: " + shared.resolve("data/advbench/harmful_behaviors.csv") + "}, judge: keyword, limit: 11}",
                "  - {name: xs, dataset: {kind: xstest, path: " + shared.resolve("data/xstest/xstest_prompts.csv") + "}, judge: refusal, limit: 6, chat_template: false}",
                "  - {name: gsm, dataset: {kind: gsm8k, path: " + shared.resolve("data/gsm8k/test.jsonl") + "}, scorer: gsm8k, limit: 4}",
                "  - {name: arc, dataset: {kind: arc, path: " + shared.resolve("data/arc/ARC-Challenge-Dev.jsonl") + "}, limit: 3}",
                ""));
        ExecutorModels.closeAll();
        RuleModelFactory.LOADS.set(0);
        // Room for both models: Spark may interleave their units on the two task threads.
        spark.conf().set(ExecutorModels.CONF_MODELS_PER_DEVICE, "2");
        EvalJobConfig config = new EvalJobConfig(
                List.of(new ModelSource.Directory("modelA"), new ModelSource.Directory("modelB")), suite.toString(),
                dir.resolve("out").toString(), -1, 8);
        EvalJob.Summary s = EvalJob.run(spark, config, new RuleModelFactory(), false);
        assertEquals(2 * (11 + 6 + 4 + 3), s.records());
        assertEquals(2 * (2 + 1 + 1 + 1), s.units());
        assertEquals(2, s.modelLoads(), "local[2] is one JVM: one load per model");
        assertEquals(2, RuleModelFactory.LOADS.get());

        EvalSuite parsed = EvalSuite.read(suite.toString());
        List<PromptRecord> expected = new ArrayList<>();
        for (ModelSource m : config.models()) {
            expected.addAll(LocalEvaluation.run(new RuleModelFactory().load(m, "cpu"), parsed, x -> null, -1));
        }
        List<String> lines = Files.readAllLines(dir.resolve("out").resolve(EvalOutputs.RECORDS));
        assertEquals(expected.size(), lines.size());
        for (int i = 0; i < lines.size(); i++) {
            PromptRecord got = EvalOutputs.JSON.readValue(lines.get(i), PromptRecord.class);
            assertEquals(withoutLatency(expected.get(i)), withoutLatency(got), "record " + i);
        }
        List<MetricRow> local = MetricsAggregator.aggregate(expected);
        assertEquals(local, s.metrics());
        assertEquals(expected.size(), spark.read().parquet(dir.resolve("out").resolve(EvalJob.PARQUET).toString()).count());
        assertTrue(Files.exists(dir.resolve("out").resolve(EvalOutputs.METRICS_CSV)));
        assertTrue(s.metrics().stream().anyMatch(r -> r.task().equals("arc") && r.metric().equals("acc_norm")));

        // The provenance: what the writer computes for this run, read back whole.
        String text = Files.readString(dir.resolve("out").resolve(OutputPublisher.PROVENANCE_FILE));
        EvalProvenance read = Provenance.read(text, EvalProvenance.class);
        assertEquals(text, read.toJson());
        EvalProvenance written = EvalOutputs.provenance(parsed, suite.toString(), config.models(), -1, 8,
                spark.sparkContext().master(), new Configuration()).get();
        assertEquals(written.toJson().replace(written.createdAt(), read.createdAt()), text);
        assertEquals(Sha256.of(Files.readAllBytes(suite)), read.suite().sha256());
        assertEquals(3, read.seed());
        assertEquals(List.of(11, 6, 4, 3), read.tasks().stream().map(EvalProvenance.Task::limit).toList());
        assertEquals(4, read.datasets().size());
        for (FileHash d : read.datasets()) {
            assertEquals(Sha256.of(Files.readAllBytes(Path.of(d.path()))), d.sha256(), d.path());
        }
        assertEquals(List.of("modelA", "modelB"), read.inputs().models());
        assertEquals("djl", read.engine().name());
        assertEquals(Environment.current(), read.environment());
        assertEquals(spark.version(), read.environment().sparkVersion(), "read from spark-core's own resource");
    }
}
