package dev.mergeval.runtime;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.TensorMerger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A merge evaluated at load time, tensor by tensor: each {@link #readFloats} reads that tensor
 * from every input checkpoint, merges it with the merge engine ({@link TensorMerger}, same
 * parameters resolution and counter-based randomness as {@code mergeval merge}), and rounds it to
 * the output dtype, exactly as writing the merge to disk and reading it back would. Only one
 * tensor per input is in memory at a time.
 *
 * <p>Output dtype: {@code out_dtype}, else {@code dtype}, else the base model's stored dtype of
 * that tensor (the first model's when there is no base).
 */
public final class MergedTensorSource implements TensorSource {

    private final MergeConfig config;
    private final Map<String, Checkpoint> inputs;
    private final Checkpoint reference;
    private final TensorMerger merger;
    private final long seed;
    private final DType outDtype;
    private final Set<String> names;

    /**
     * @param inputs one open checkpoint per {@link MergeConfig#inputModels()} entry (this source
     *     closes them)
     * @param numLayers decoder layers (for per-layer parameter gradients)
     */
    public MergedTensorSource(MergeConfig config, Map<String, Checkpoint> inputs, int numLayers, long seed) {
        this.config = config;
        this.inputs = new LinkedHashMap<>(inputs);
        List<String> models = config.inputModels();
        if (!this.inputs.keySet().equals(new LinkedHashSet<>(models))) {
            throw new IllegalArgumentException("inputs " + inputs.keySet() + " are not the config's models " + models);
        }
        this.reference = this.inputs.get(config.baseModel().orElse(models.get(0)));
        this.merger = TensorMerger.create(config, numLayers);
        this.seed = seed;
        this.outDtype = config.outDtype().or(config::dtype).map(DType::fromTorchName).orElse(null);
        this.names = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(reference.tensorNames()));
    }

    /** The checkpoint whose directory supplies config, tokenizer and tensor names (the base model). */
    public Checkpoint reference() {
        return reference;
    }

    @Override
    public String location() {
        return "merge " + config.sourceName();
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public long[] shape(String name) {
        return reference.info(name).shape();
    }

    @Override
    public float[] readFloats(String name) {
        long[] shape = shape(name);
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Map.Entry<String, Checkpoint> e : inputs.entrySet()) {
            Checkpoint c = e.getValue();
            if (!c.contains(name)) {
                throw new BadInputException(c.location() + ": missing tensor '" + name + "' needed by the merge");
            }
            if (!Arrays.equals(c.info(name).shape(), shape)) {
                throw new BadInputException(c.location() + ": tensor '" + name + "' has shape "
                        + Arrays.toString(c.info(name).shape()) + ", the base has " + Arrays.toString(shape));
            }
            values.put(e.getKey(), c.readFloats(name));
        }
        float[] merged = merger.merge(name, shape, 0, values, seed);
        DType dt = outDtype != null ? outDtype : reference.info(name).dtype();
        TensorCodec.roundTo(dt, merged, 0, merged.length);
        return merged;
    }

    @Override
    public void close() {
        inputs.values().forEach(Checkpoint::close);
    }
}
