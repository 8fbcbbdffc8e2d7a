package dev.mergeval.eval;

import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.Datasets;

/**
 * The items a task evaluates, the same on every executor: its dataset, loaded and sampled to the
 * limit with the suite's seed.
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
}
