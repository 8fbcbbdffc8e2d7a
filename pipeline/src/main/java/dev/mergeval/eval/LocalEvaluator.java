package dev.mergeval.eval;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.Datasets;
import dev.mergeval.eval.datasets.EvalExample;

/**
 * The items a task evaluates, the same on every executor: its dataset, loaded and sampled to the
 * limit with the suite's seed.
 */
public final class LocalEvaluator {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalEvaluator.class);

    private LocalEvaluator() {
    }

    /**
     * The items of a task after sampling; {@code limitOverride} >= 0 caps every task. An
     * {@code exact_match} task's dataset needs an answer on every item, checked here, before any
     * model is loaded.
     */
    public static Dataset items(EvalTask task, long seed, int limitOverride) {
        Dataset d = Datasets.load(task.dataset());
        if (EvalTask.EXACT_MATCH.equals(task.scorer())) {
            for (EvalExample e : d.examples()) {
                if (e.answer() == null || e.answer().isBlank()) {
                    throw new BadInputException(d.source() + ": item " + e.id() + " has no 'answer', which scorer "
                            + EvalTask.EXACT_MATCH + " of task '" + task.name() + "' needs");
                }
            }
        }
        int limit = task.limit();
        if (limitOverride >= 0) {
            limit = limit < 0 ? limitOverride : Math.min(limit, limitOverride);
        }
        Dataset sampled = Datasets.sample(d, limit, seed);
        LOG.info("{}; task {} uses {}", d.summary(), task.name(), sampled.size());
        return sampled;
    }
}
