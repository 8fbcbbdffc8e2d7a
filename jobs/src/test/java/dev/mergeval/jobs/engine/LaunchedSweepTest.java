package dev.mergeval.jobs.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.Mappers;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.jobs.bench.EngineBenchmark;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cluster.LocalSparkCluster;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.jobs.sweep.SweepJob;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.sweep.SweepSpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep on a launched engine ({@code engine: {kind: openai, launch: "bin/mergeval serve --model
 * {model} --port {port}"}}) on local[2] and on a real two-worker standalone cluster: every point is
 * materialized, served by servers the executor tasks start, evaluated through them and the servers
 * stopped; the records equal the in-JVM sweep's (merge-on-load) point by point, and only the chosen
 * merge point is left on disk.
 */
class LaunchedSweepTest {

    static final Path ROOT = ProjectLayout.root();

    @TempDir
    Path dir;

    private Path spec(String engine) throws IOException {
        String data = ROOT.resolve("data/toy").toString();
        Path suite = dir.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: launched",
                "defaults: {chat_template: true, generation: {max_new_tokens: 12}, limit: 4}",
                "tasks:",
                "  - {name: harmful, dataset: {kind: jsonl, path: " + data + "/heldout-harmful.jsonl}, judge: keyword}",
                "  - {name: task, dataset: {kind: jsonl, path: " + data + "/heldout-task.jsonl}, scorer: exact_match}",
                ""));
        Path spec = dir.resolve("spec-" + (engine.isEmpty() ? "djl" : "launched") + ".yaml");
        Files.writeString(spec, String.join("\n",
                "name: launched",
                "aligned: " + ROOT.resolve("models/toy/aligned"),
                "finetuned: " + ROOT.resolve("models/toy/finetuned"),
                "grid:",
                "  - {method: linear, ratios: [0.5, 0.8]}",
                "suite: " + suite,
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "materialize: chosen",
                engine,
                ""));
        return spec;
    }

    @Test
    void eachPointIsServedEvaluatedAndStoppedAndMatchesTheInJvmSweep() throws IOException {
        long children = ProcessHandle.current().descendants().count();
        Path djl = dir.resolve("djl");
        Path launched = dir.resolve("launched");
        assertEquals(0, MergevalCli.run("sweep", spec("").toString(), "--out", djl.toString(), "--master", "local[2]"));
        Path launchedSpec = spec("engine: {kind: openai, launch: '" + EngineEvalTest.SERVE
                + "', concurrency: 2, startup_timeout: 300}");
        assertEquals(0, MergevalCli.run("sweep", launchedSpec.toString(), "--out", launched.toString(),
                "--master", "local[2]"));
        assertFalse(ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).count() > children,
                "every launched server is stopped");

        List<Path> points;
        try (Stream<Path> s = Files.list(launched.resolve("points"))) {
            points = s.filter(Files::isDirectory).sorted().toList();
        }
        assertEquals(4, points.size(), "aligned, fine-tune and two ratios");
        for (Path p : points) {
            Path records = p.resolve("eval").resolve(EvalOutputs.RECORDS);
            Path same = djl.resolve("points").resolve(p.getFileName()).resolve("eval").resolve(EvalOutputs.RECORDS);
            assertEquals(8, Files.readAllLines(records).size());
            assertEquals(List.of(), EngineBenchmark.differences(same, records), "point " + p.getFileName());
            JsonNode engine = Mappers.JSON.readTree(p.resolve("eval").resolve(OutputPublisher.PROVENANCE_FILE).toFile())
                    .get("engine");
            assertEquals("openai", engine.get("name").asText());
            assertTrue(engine.get("launch").asText().contains(" serve --model "), engine.toString());
        }
        JsonNode summary = Mappers.JSON.readTree(launched.resolve("summary.json").toFile());
        JsonNode djlSummary = Mappers.JSON.readTree(djl.resolve("summary.json").toFile());
        String chosen = summary.get("recommendation").get("id").asText();
        assertEquals(djlSummary.get("recommendation").get("id").asText(), chosen);
        List<String> kept;
        try (Stream<Path> s = Files.exists(launched.resolve("models")) ? Files.list(launched.resolve("models"))
                : Stream.empty()) {
            kept = s.map(p -> p.getFileName().toString()).toList();
        }
        boolean chosenIsMerge = "merge".equals(summary.get("recommendation").get("role").asText());
        assertEquals(chosenIsMerge ? List.of(chosen) : List.of(), kept, "points are deleted unless chosen");

        // On a real standalone cluster the executors (their own JVMs) launch the servers.
        Path cluster = dir.resolve("cluster");
        try (LocalSparkCluster c = LocalSparkCluster.start(2)) {
            SparkSession spark = SparkSession.builder().config(c.driverConf("launched-sweep")).getOrCreate();
            try {
                SweepJob.run(spark, SweepSpec.load(launchedSpec), cluster.toString(), new RuntimeModelFactory(),
                        id -> new LocalMergeExecutor(1, new Configuration(), Progress.NONE), Progress.NONE);
            } finally {
                spark.stop();
            }
        }
        for (Path p : points) {
            Path records = p.resolve("eval").resolve(EvalOutputs.RECORDS);
            assertEquals(List.of(), EngineBenchmark.differences(records, cluster.resolve("points")
                    .resolve(p.getFileName()).resolve("eval").resolve(EvalOutputs.RECORDS)), "cluster point " + p);
        }
    }
}
