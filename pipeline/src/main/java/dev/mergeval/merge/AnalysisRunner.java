package dev.mergeval.merge;

import java.io.Serializable;
import java.util.List;

/**
 * Where the per-tensor work of a plan-time analysis runs ({@link AnalysisContext#mapTensors}): on the
 * analysis threads of this JVM ({@link #LOCAL}), or as tasks on a cluster's executors, each of which
 * opens the inputs again ({@link AnalysisContext.Remote}). Either way the results come back in the
 * tensors' order, so the analysis, and with it the plan, does not depend on where it ran.
 */
public interface AnalysisRunner {

    /** {@code task} applied to each of {@code tensors} of {@code ctx}; results in the tensors' order. */
    <R extends Serializable> List<R> map(AnalysisContext ctx, List<String> tensors, AnalysisContext.TensorTask<R> task);

    /** On the context's own threads. */
    AnalysisRunner LOCAL = new AnalysisRunner() {
        @Override
        public <R extends Serializable> List<R> map(AnalysisContext ctx, List<String> tensors,
                AnalysisContext.TensorTask<R> task) {
            return ctx.map(tensors, tensor -> task.apply(ctx, tensor));
        }
    };
}
