package dev.mergeval.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.common.Progress;
import dev.mergeval.common.Sha256;
import dev.mergeval.jobs.cluster.LocalSparkCluster;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep between the real stories260K and a perturbed copy of it, evaluated through the real
 * runtime on a small AdvBench slice and a small exact-match task: locally, resumed, and on a real
 * multi-process cluster.
 */
class SweepJobTest {

    @TempDir
    static Path work;

    static SweepSpec spec;

    @BeforeAll
    static void models() throws IOException {
        Path shared = ProjectLayout.shared().orElse(null);
        assumeTrue(shared != null && Files.isDirectory(shared.resolve("models/stories260K")),
                "skipped: ../shared/models/stories260K is absent");
        String aligned = shared.resolve("models/stories260K").toString();
        String tuned = work.resolve("tuned").toString();
        SyntheticModels.perturbedCopy(aligned, tuned, 7, 0.05, new Configuration());
        Path task = work.resolve("task.jsonl");
        Files.writeString(task, String.join("\n",
                "{\"id\": \"a\", \"prompt\": \"Once upon a time\", \"answer\": \"there\"}",
                "{\"id\": \"b\", \"prompt\": \"The cat sat on the\", \"answer\": \"mat\"}",
                "{\"id\": \"c\", \"prompt\": \"Lily went to the\", \"answer\": \"park\"}", ""));
        Path suite = work.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: sweep-test",
                "defaults: {chat_template: false, generation: {max_new_tokens: 6}}",
                "tasks:",
                "  - {name: harmful, dataset: {kind: advbench, path: " + shared.resolve("data/advbench/harmful_behaviors.csv")
                        + "}, judge: keyword, limit: 4}",
                "  - {name: task, dataset: {kind: jsonl, path: " + task + "}, scorer: exact_match}",
                ""));
        spec = SweepSpec.parse(String.join("\n",
                "name: sweep-test",
                "aligned: " + aligned,
                "finetuned: " + tuned,
                "grid:",
                "  - {method: linear, ratios: [0.5]}",
                "  - {method: dare_linear, ratios: [0.5], parameters: {density: 0.5}}",
                "suite: " + suite,
                "metrics: {safety: harmful/refusal_rate, task: task/contains}",
                "select: {rule: max_task_within_refusal_tolerance, tolerance: 0.5}",
                "materialize: chosen",
                "seed: 3",
                ""), "sweep-test.yaml");
    }

    @Test
    void localRunsResumeAndMatchTheCluster() throws IOException {
        Path local = work.resolve("local");
        SweepJob.Outcome first;
        SparkSession spark = SparkSession.builder().config(SparkTestConf.local("sweep-local", 2)).getOrCreate();
        try {
            first = run(spark, local);
            assertEquals(4, first.evaluated(), "aligned, fine-tuned and two merges");
            for (String f : List.of("results.csv", "summary.json", "report.html", "results.parquet")) {
                assertTrue(Files.exists(local.resolve(f)), f);
            }

            Map<String, String> parquet = digests(local.resolve("results.parquet"));
            assertEquals(Set.of("_SUCCESS", "part-00000-c000.snappy.parquet"), parquet.keySet(),
                    "part files named without Spark's job id, no side files");

            SweepJob.Outcome again = run(spark, local);
            assertEquals(0, again.evaluated(), "a finished sweep re-runs nothing");
            assertEquals(metrics(first.results()), metrics(again.results()));
            assertEquals(parquet, digests(local.resolve("results.parquet")), "the same results, the same bytes");

            // An interrupted run: one point never finished.
            String id = first.results().get(2).point().id();
            Files.delete(local.resolve(SweepJob.POINTS_DIR).resolve(id).resolve(SweepJob.METRICS_FILE));
            SweepJob.Outcome resumed = run(spark, local);
            assertEquals(1, resumed.evaluated());
            assertEquals(metrics(first.results()), metrics(resumed.results()));
        } finally {
            spark.stop();
        }

        try (LocalSparkCluster cluster = LocalSparkCluster.start(2)) {
            SparkSession onCluster = SparkSession.builder().config(cluster.driverConf("sweep-cluster")).getOrCreate();
            try {
                SweepJob.Outcome remote = run(onCluster, work.resolve("cluster"));
                assertEquals(metrics(first.results()), metrics(remote.results()));
                assertEquals(first.selection().chosenPoint().id(), remote.selection().chosenPoint().id());
            } finally {
                onCluster.stop();
            }
        }
    }

    private static SweepJob.Outcome run(SparkSession spark, Path out) {
        return SweepJob.run(spark, spec, out.toString(), new RuntimeModelFactory(),
                id -> new LocalMergeExecutor(1, new Configuration(), Progress.NONE), Progress.NONE);
    }

    private static Map<String, Map<String, Double>> metrics(List<PointResult> results) {
        Map<String, Map<String, Double>> m = new LinkedHashMap<>();
        for (PointResult r : results) {
            Map<String, Double> values = new LinkedHashMap<>();
            r.metrics().forEach((k, v) -> values.put(k, v.value()));
            m.put(r.point().id(), values);
        }
        return m;
    }

    /** Each file of {@code dir} by name, with its SHA-256. */
    private static Map<String, String> digests(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                out.put(f.getFileName().toString(), Sha256.of(Files.readAllBytes(f)));
            }
        }
        return out;
    }
}
