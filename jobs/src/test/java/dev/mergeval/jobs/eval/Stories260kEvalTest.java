package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.LocalEvaluation;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.LocalSparkCluster;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on the real stories260K through the real runtime: small slices of AdvBench, XSTest and
 * GSM8K, run in this JVM with {@link LocalEvaluation}, through {@code mergeval eval} on Spark
 * local[2], and on a real multi-process standalone cluster (two workers, executors in their own
 * JVMs); the per-prompt records must be identical (latency aside) and the metrics equal.
 */
class Stories260kEvalTest {

    @TempDir
    static Path dir;

    private static String model;
    private static Path suite;
    private static List<PromptRecord> local;

    private static Path shared() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("shared/data"))) {
                return p.resolve("shared");
            }
        }
        return null;
    }

    private static PromptRecord normalised(PromptRecord r) {
        return new PromptRecord(r.model(), r.task(), r.promptId(), r.category(), r.prompt(), r.completion(), r.judge(),
                r.refused(), r.harmful(), r.parseable(), r.judgeOutput(), new TreeMap<>(r.outcomes()), r.promptTokens(),
                r.completionTokens(), 0.0);
    }

    @BeforeAll
    static void runLocally() throws IOException {
        Path shared = shared();
        assumeTrue(shared != null && Files.isDirectory(shared.resolve("models/stories260K")),
                "skipped: shared/models/stories260K is absent");
        model = shared.resolve("models/stories260K").toString();
        suite = dir.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: stories-smoke",
                "seed: 5",
                "defaults:",
                "  generation: {max_new_tokens: 16}",
                "tasks:",
                "  - {name: advbench, dataset: {kind: advbench, path: " + shared.resolve("data/advbench/harmful_behaviors.csv") + "}, judge: keyword, limit: 5}",
                "  - {name: xstest, dataset: {kind: xstest, path: " + shared.resolve("data/xstest/xstest_prompts.csv") + "}, judge: refusal, limit: 4, system_prompt: Be kind.}",
                "  - {name: gsm8k, dataset: {kind: gsm8k, path: " + shared.resolve("data/gsm8k/test.jsonl") + "}, scorer: gsm8k, limit: 3, chat_template: false}",
                ""));
        try (LanguageModel lm = new RuntimeModelFactory().load(new ModelSource.Directory(model), "cpu")) {
            local = LocalEvaluation.run(lm, EvalSuite.read(suite.toString()), s -> {
                throw new AssertionError("no model judges");
            }, -1);
        }
        assertEquals(12, local.size());
        assertTrue(local.stream().allMatch(r -> r.promptTokens() > 0 && r.completionTokens() > 0), "real tokens");
        assertTrue(local.stream().anyMatch(r -> !r.completion().isBlank()), "the model generates text");
    }

    private static List<PromptRecord> assertSameAsLocal(Path out) throws IOException {
        List<String> lines = Files.readAllLines(out.resolve(EvalOutputs.RECORDS));
        assertEquals(local.size(), lines.size());
        List<PromptRecord> got = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            PromptRecord r = EvalOutputs.JSON.readValue(lines.get(i), PromptRecord.class);
            got.add(r);
            assertEquals(normalised(local.get(i)), normalised(r), "record " + i);
        }
        assertEquals(MetricsAggregator.aggregate(local), MetricsAggregator.aggregate(got));
        assertTrue(Files.exists(out.resolve("metrics.json")) && Files.exists(out.resolve("metrics.csv")));
        assertTrue(Files.isDirectory(out.resolve(EvalJob.PARQUET)));
        return got;
    }

    @Test
    void evalCommandOnLocal2MatchesTheLocalRun() throws IOException {
        Path out = dir.resolve("out-local2");
        int rc = MergevalCli.run("eval", "--model", model, "--suite", suite.toString(), "--out", out.toString(),
                "--master", "local[2]", "--slice-size", "2");
        assertEquals(0, rc);
        assertSameAsLocal(out);
        JsonNode metrics = EvalOutputs.JSON.readTree(out.resolve("metrics.json").toFile());
        assertEquals(List.of(model), EvalOutputs.JSON.convertValue(metrics.get("models"), List.class),
                "models a list, so a path with a comma is one model");
        assertTrue(metrics.get("limit").isNull(), "no --limit: " + metrics.get("limit"));
    }

    @Test
    void multiProcessClusterMatchesTheLocalRunWithOneLoadPerExecutor() throws IOException {
        Path out = dir.resolve("out-cluster");
        try (LocalSparkCluster cluster = LocalSparkCluster.start(2)) {
            SparkSession spark = SparkSession.builder().config(cluster.driverConf("stories260k-eval")).getOrCreate();
            try {
                EvalJob.Summary s = EvalJob.run(spark, new EvalJobConfig(
                        List.of(new ModelSource.Directory(model)), suite.toString(),
                        out.toString(), -1, 2), new RuntimeModelFactory(), false);
                assertTrue(s.modelLoads() >= 1 && s.modelLoads() <= 2,
                        "one load per executor JVM, two executors: " + s.modelLoads());
                assertEquals(7, s.units());
            } finally {
                spark.stop();
            }
        }
        assertSameAsLocal(out);
    }
}
