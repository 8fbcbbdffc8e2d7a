package dev.mergeval.jobs.eval;

import dev.mergeval.source.ModelSource;
import java.io.Serializable;

/**
 * One unit of work fanned out to an executor: a slice {@code [from, to)} of one task's sampled
 * items, for one model. Executors rebuild the items from the suite (deterministic: same files,
 * same seed), so a unit carries only indices and the model's source, parsed on the driver.
 */
record EvalUnit(int modelIndex, ModelSource modelSource, int taskIndex, String taskName, int from, int to)
        implements Serializable {
    private static final long serialVersionUID = 1L;
}
