package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.Parallel;
import dev.mergeval.common.Progress;
import java.util.List;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;

/**
 * What a plan-time analysis ({@link MergeMethod#analyze}) may see: the config, the parameters
 * resolved per tensor, the tensors the merge computes, and the inputs, read whole. It runs once, on
 * the driver of {@code mergeval merge} or before a merge is evaluated on load.
 */
public final class AnalysisContext {

    private final MergeInputs inputs;
    private final TensorMerger merger;
    private final List<String> tensors;
    private final Configuration conf;
    private final int threads;
    private final Progress progress;

    /**
     * @param tensors  the tensors the merge computes (float tensors of the reference model), in output order
     * @param threads  how many tensors {@link #map} works on at once
     * @param progress told of each item {@link #map} finishes (an analysis can take hours: Safe LoRA's
     *                 of a full 8B fine-tune)
     */
    public AnalysisContext(MergeInputs inputs, TensorMerger merger, List<String> tensors, Configuration conf,
            int threads, Progress progress) {
        this.inputs = inputs;
        this.merger = merger;
        this.tensors = List.copyOf(tensors);
        this.conf = conf;
        this.threads = Math.max(1, threads);
        this.progress = progress;
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
     * {@code fn} applied to each of {@code items} on the analysis threads; results in the items'
     * order, so the outcome does not depend on the thread count. Bad input is rethrown as is.
     */
    public <T, R> List<R> map(List<T> items, Function<T, R> fn) {
        progress.start(config().mergeMethod() + " analysis", items.size());
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
