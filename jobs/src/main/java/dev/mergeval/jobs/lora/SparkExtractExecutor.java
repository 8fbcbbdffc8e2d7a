package dev.mergeval.jobs.lora;

import dev.mergeval.common.Progress;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.lora.DeltaDecomposer;
import dev.mergeval.lora.DeltaResult;
import dev.mergeval.lora.ExtractExecutor;
import dev.mergeval.lora.ExtractionPlan;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Runs an extraction's tasks as Spark tasks, as {@code SparkMergeExecutor} runs a merge's units: one
 * partition per tensor in plan order, the plan and the driver's Hadoop configuration broadcast once,
 * each task reading its tensor from both models through Hadoop FileSystem where it runs; results
 * (the factors, the adapter's size) come back in task order. A task failing on bad input cancels the
 * job and its {@code BadInputException} is rethrown.
 */
public final class SparkExtractExecutor implements ExtractExecutor {

    private final JavaSparkContext sc;
    private final Progress progress;

    public SparkExtractExecutor(JavaSparkContext sc, Progress progress) {
        this.sc = sc;
        this.progress = progress;
    }

    @Override
    public List<DeltaResult> run(ExtractionPlan plan) {
        List<Integer> indices = IntStream.range(0, plan.tasks().size()).boxed().toList();
        Broadcast<ExtractionPlan> planBroadcast = sc.broadcast(plan);
        Broadcast<SerializableConfiguration> conf = sc.broadcast(new SerializableConfiguration(sc.hadoopConfiguration()));
        progress.start("extract-lora", indices.size());
        try {
            return FailFast.run(sc, "mergeval extract-lora: " + indices.size() + " tensors", progress,
                    () -> sc.parallelize(indices, Math.max(1, indices.size())).map(new Task(planBroadcast, conf))
                            .collect());
        } finally {
            progress.finish();
            planBroadcast.destroy();
            conf.destroy();
        }
    }

    @Override
    public String describe() {
        return "spark(" + sc.master() + ")";
    }

    /** Executor side of one tensor: holds only broadcasts, so the closure shipped per task is tiny. */
    private static final class Task implements Function<Integer, DeltaResult> {
        private static final long serialVersionUID = 1L;

        private final Broadcast<ExtractionPlan> plan;
        private final Broadcast<SerializableConfiguration> conf;

        Task(Broadcast<ExtractionPlan> plan, Broadcast<SerializableConfiguration> conf) {
            this.plan = plan;
            this.conf = conf;
        }

        @Override
        public DeltaResult call(Integer index) {
            try {
                return DeltaDecomposer.run(plan.value(), index, conf.value().value());
            } catch (RuntimeException e) {
                throw FailFast.unwrapBadInput(e);
            }
        }
    }
}
