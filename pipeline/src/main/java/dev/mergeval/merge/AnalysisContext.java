package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.Parallel;
import dev.mergeval.common.Progress;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;

/**
 * What a plan-time analysis ({@link MergeMethod#analyze}) may see: the config, the parameters
 * resolved per tensor, the tensors the merge computes, and the inputs, read whole. It runs once, on
 * the driver of {@code mergeval merge} or before a merge is evaluated on load; its per-tensor work
 * ({@link #mapTensors}) runs where the merge's {@link AnalysisRunner} puts it, on a cluster's
 * executors for a Spark merge.
 */
public final class AnalysisContext {

    /**
     * One tensor's share of an analysis. It may be shipped to another JVM and applied there to a
     * context over the same inputs, so it holds values only (model references, numbers), never a
     * context or an open input.
     */
    @FunctionalInterface
    public interface TensorTask<R extends Serializable> extends Serializable {
        R apply(AnalysisContext ctx, String tensor);
    }

    /**
     * What another JVM needs to analyze these inputs: the config, where each model and extra input
     * is read, the layer count and the tensors the merge computes.
     */
    public record Remote(MergeConfig config, Map<String, String> models, Map<String, String> extras, int numLayers,
            List<String> tensors) implements Serializable {
        public Remote {
            models = Collections.unmodifiableMap(new LinkedHashMap<>(models));
            extras = Collections.unmodifiableMap(new LinkedHashMap<>(extras));
            tensors = List.copyOf(tensors);
        }

        /**
         * {@code task} applied to {@code tensor} of these inputs, opened (and closed) here, on this
         * thread: reopened where an earlier task of this very value opened them in this JVM
         * ({@link MergeInputs#openFor}).
         */
        public <R extends Serializable> R apply(String tensor, TensorTask<R> task, Configuration conf) {
            try (MergeInputs inputs = MergeInputs.openFor(this, config, models, extras, conf)) {
                AnalysisContext ctx = new AnalysisContext(inputs, inputs.merger(numLayers, PlanAnalysis.NONE), tensors,
                        conf, 1, Progress.NONE, AnalysisRunner.LOCAL, this);
                return task.apply(ctx, tensor);
            }
        }
    }

    private final MergeInputs inputs;
    private final TensorMerger merger;
    private final List<String> tensors;
    private final Configuration conf;
    private final int threads;
    private final Progress progress;
    private final AnalysisRunner runner;
    private final Remote remote;

    /**
     * @param tensors  the tensors the merge computes (float tensors of the reference model), in output order
     * @param threads  how many tensors {@link #map} works on at once
     * @param progress told of each item {@link #map} finishes (an analysis can take hours: Safe LoRA's
     *                 of a full 8B fine-tune)
     * @param runner   where {@link #mapTensors} runs
     * @param remote   these inputs as another JVM opens them
     */
    public AnalysisContext(MergeInputs inputs, TensorMerger merger, List<String> tensors, Configuration conf,
            int threads, Progress progress, AnalysisRunner runner, Remote remote) {
        this.inputs = inputs;
        this.merger = merger;
        this.tensors = List.copyOf(tensors);
        this.conf = conf;
        this.threads = Math.max(1, threads);
        this.progress = progress;
        this.runner = runner;
        this.remote = remote;
    }

    public MergeConfig config() {
        return inputs.config();
    }

    /** The tensors the merge computes, in output order. */
    public List<String> tensors() {
        return tensors;
    }

    public long[] shape(String tensor) {
        return inputs.shape(tensor);
    }

    public TensorParams params(String tensor) {
        return merger.params(tensor);
    }

    /** A model by reference as written in the config, or an extra model input by parameter name. */
    public Checkpoint input(String name) {
        return inputs.input(name);
    }

    /** Where {@link #input} reads from: a location {@link Checkpoint#open} accepts. */
    public String location(String name) {
        return inputs.input(name).location();
    }

    /**
     * Checks from its header that extra input {@code parameter} holds {@code tensor} in the reference
     * model's shape, as {@link #read} does before reading it: an analysis that checks every tensor
     * first fails on bad input before its progress starts.
     */
    public void checkExtra(String parameter, String tensor) {
        inputs.checkExtra(parameter, tensor);
    }

    /** The whole tensor from a model or an extra input (checked against the reference model's shape). */
    public float[] read(String name, String tensor) {
        return inputs.read(name, tensor);
    }

    public Configuration conf() {
        return conf;
    }

    /**
     * {@code task} applied to each of {@code tensors} where the {@link AnalysisRunner} runs it (this
     * JVM's analysis threads, or a cluster's executors); results in the tensors' order. Bad input is
     * rethrown as is.
     */
    public <R extends Serializable> List<R> mapTensors(List<String> tensors, TensorTask<R> task) {
        return runner.map(this, tensors, task);
    }

    /** These inputs as another JVM opens them ({@link Remote#apply}). */
    public Remote remote() {
        return remote;
    }

    /** Whom the analysis reports its progress to, one step per item. */
    public Progress progress() {
        return progress;
    }

    /** The name of the analysis' progress. */
    public String label() {
        return config().mergeMethod() + " analysis";
    }

    /**
     * {@code fn} applied to each of {@code items} on the analysis threads; results in the items'
     * order, so the outcome does not depend on the thread count. Bad input is rethrown as is.
     */
    public <T, R> List<R> map(List<T> items, Function<T, R> fn) {
        progress.start(label(), items.size());
        Function<T, R> counted = item -> {
            R result = fn.apply(item);
            progress.advance(1);
            return result;
        };
        try {
            return threads == 1 || items.size() < 2 ? items.stream().map(counted).toList()
                    : Parallel.map(items, threads, counted);
        } finally {
            progress.finish();
        }
    }
}
