package dev.mergeval.eval;

import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.judges.Judge;
import dev.mergeval.runtime.LanguageModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A test fixture: runs a suite on one model in this JVM, the reference the Spark evaluation is
 * compared with. Loads each task's items ({@link LocalEvaluator#items}), runs them through
 * {@link TaskRunner} and returns the per-prompt records. Judge models are loaded once per source
 * through {@code judgeLoader} and closed at the end.
 */
public final class LocalEvaluation {

    private LocalEvaluation() {
    }

    public static List<PromptRecord> run(LanguageModel model, EvalSuite suite,
                                         Function<String, LanguageModel> judgeLoader, int limitOverride) {
        Map<String, LanguageModel> judgeModels = new LinkedHashMap<>();
        try {
            List<PromptRecord> records = new ArrayList<>();
            for (EvalTask task : suite.tasks()) {
                Dataset d = LocalEvaluator.items(task, suite.seed(), limitOverride);
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
