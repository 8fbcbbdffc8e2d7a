package dev.mergeval.jobs.merge;

import dev.mergeval.common.Progress;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.merge.AnalysisContext;
import dev.mergeval.merge.AnalysisRunner;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Runs a plan-time analysis' per-tensor work (Safe LoRA's cosines: minutes per matrix of an 8B model)
 * as Spark tasks, one per tensor: each opens the inputs from the broadcast
 * {@link AnalysisContext.Remote} and the driver's Hadoop configuration (an executor's first task
 * reads their headers, the later ones reopen them), and returns its result;
 * {@code collect} gives them back in the tensors' order, so the plan is the one a single JVM makes.
 * A task failing on bad input stops the job ({@link FailFast}).
 */
final class SparkAnalysisRunner implements AnalysisRunner {

    private final JavaSparkContext sc;

    SparkAnalysisRunner(JavaSparkContext sc) {
        this.sc = sc;
    }

    @Override
    public <R extends Serializable> List<R> map(AnalysisContext ctx, List<String> tensors,
            AnalysisContext.TensorTask<R> task) {
        if (tensors.isEmpty()) {
            return List.of();
        }
        Broadcast<AnalysisContext.Remote> remote = sc.broadcast(ctx.remote());
        Broadcast<SerializableConfiguration> conf = sc.broadcast(new SerializableConfiguration(sc.hadoopConfiguration()));
        Progress progress = ctx.progress();
        progress.start(ctx.label(), tensors.size());
        try {
            return FailFast.run(sc, "mergeval " + ctx.label() + ": " + tensors.size() + " tensors", progress,
                    () -> sc.parallelize(tensors, tensors.size()).map(new Task<>(remote, conf, task)).collect());
        } finally {
            progress.finish();
            remote.destroy();
            conf.destroy();
        }
    }

    /** Executor side: one tensor's task on the inputs opened there. */
    private static final class Task<R extends Serializable> implements Function<String, R> {

        private static final long serialVersionUID = 1L;

        private final Broadcast<AnalysisContext.Remote> remote;
        private final Broadcast<SerializableConfiguration> conf;
        private final AnalysisContext.TensorTask<R> task;

        Task(Broadcast<AnalysisContext.Remote> remote, Broadcast<SerializableConfiguration> conf,
                AnalysisContext.TensorTask<R> task) {
            this.remote = remote;
            this.conf = conf;
            this.task = task;
        }

        @Override
        public R call(String tensor) {
            try {
                return remote.value().apply(tensor, task, conf.value().value());
            } catch (RuntimeException e) {
                throw FailFast.unwrapBadInput(e);
            }
        }
    }
}
