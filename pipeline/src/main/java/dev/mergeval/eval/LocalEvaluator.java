package dev.mergeval.eval;

import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.Datasets;
import dev.mergeval.eval.judges.Judge;
import dev.mergeval.runtime.LanguageModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs a suite on one model in this JVM: loads each task's dataset, samples it to the limit, runs
 * it through {@link TaskRunner} and returns the per-prompt records. Judge models are loaded once per
 * source through {@code judgeLoader} and closed at the end.
 */
public final class LocalEvaluator {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalEvaluator.class);

    private LocalEvaluator() {
    }

    /** The items of a task after sampling; {@code limitOverride} >= 0 caps every task. */
    public static Dataset items(EvalTask task, long seed, int limitOverride) {
        Dataset d = Datasets.load(task.dataset());
        int limit = task.limit();
        if (limitOverride >= 0) {
            limit = limit < 0 ? limitOverride : Math.min(limit, limitOverride);
        }
        Dataset sampled = Datasets.sample(d, limit, seed);
        LOG.info("{}; task {} uses {}", d.summary(), task.name(), sampled.size());
        return sampled;
    }

    public static List<PromptRecord> run(LanguageModel model, EvalSuite suite,
                                         Function<String, LanguageModel> judgeLoader, int limitOverride) {
        Map<String, LanguageModel> judgeModels = new LinkedHashMap<>();
        try {
            List<PromptRecord> records = new ArrayList<>();
            for (EvalTask task : suite.tasks()) {
                Dataset d = items(task, suite.seed(), limitOverride);
                Judge judge = null;
                if (task.judge() != null) {
                    judge = task.judge().needsModel()
                            ? task.judge().modelJudge(judgeModels.computeIfAbsent(task.judge().modelSource(), judgeLoader))
                            : task.judge().ruleJudge();
                }
                records.addAll(TaskRunner.run(model, task, d.examples(), judge));
            }
            return records;
        } finally {
            judgeModels.values().forEach(LanguageModel::close);
        }
    }

    /** Writes {@code records.jsonl}, {@code metrics.json} and {@code metrics.csv} into {@code dir}. */
    public static List<MetricRow> write(Path dir, List<PromptRecord> records, Map<String, String> info) {
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot create " + dir, e);
        }
        EvalOutputs.writeRecords(dir.resolve(EvalOutputs.RECORDS), records);
        List<MetricRow> metrics = MetricsAggregator.aggregate(records);
        EvalOutputs.writeMetrics(dir, metrics, info);
        return metrics;
    }
}
