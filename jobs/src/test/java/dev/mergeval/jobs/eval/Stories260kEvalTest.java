package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.LocalEvaluator;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.runtime.LanguageModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on the real stories260K through the real runtime: small slices of AdvBench, XSTest and
 * GSM8K, run in this JVM with {@link LocalEvaluator} and through {@code mergeval eval} on Spark
 * local[2]; the per-prompt records must be identical (latency aside) and the metrics equal.
 */
class Stories260kEvalTest {

    @TempDir
    Path dir;

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

    @Test
    void localAndSparkRunsGiveIdenticalRecords() throws IOException {
        Path shared = shared();
        assumeTrue(shared != null && Files.isDirectory(shared.resolve("models/stories260K")),
                "skipped: shared/models/stories260K is absent");
        String model = shared.resolve("models/stories260K").toString();
        Path suite = dir.resolve("suite.yaml");
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
        List<PromptRecord> local;
        try (LanguageModel lm = EvalModels.load(model, "cpu")) {
            local = LocalEvaluator.run(lm, EvalSuite.read(suite.toString()), s -> {
                throw new AssertionError("no model judges");
            }, -1);
        }
        assertEquals(12, local.size());
        assertTrue(local.stream().allMatch(r -> r.promptTokens() > 0 && r.completionTokens() > 0), "real tokens");
        assertTrue(local.stream().anyMatch(r -> !r.completion().isBlank()), "the model generates text");

        Path out = dir.resolve("out");
        int rc = MergevalCli.run("eval", "--model", model, "--suite", suite.toString(), "--out", out.toString(),
                "--master", "local[2]", "--slice-size", "2");
        assertEquals(0, rc);
        List<String> lines = Files.readAllLines(out.resolve(EvalOutputs.RECORDS));
        assertEquals(local.size(), lines.size());
        List<PromptRecord> spark = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            PromptRecord got = EvalOutputs.JSON.readValue(lines.get(i), PromptRecord.class);
            spark.add(got);
            assertEquals(normalised(local.get(i)), normalised(got), "record " + i);
        }
        assertEquals(MetricsAggregator.aggregate(local), MetricsAggregator.aggregate(spark));
        assertTrue(Files.exists(out.resolve("metrics.json")) && Files.exists(out.resolve("metrics.csv")));
        assertTrue(Files.isDirectory(out.resolve(EvalJob.PARQUET)));
    }
}
