package dev.mergeval.merge.onload;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import dev.mergeval.merge.EmbeddingRows;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.MergeLayout;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.runtime.TensorSource;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A merge evaluated at load time, tensor by tensor: each {@link #readFloats} reads that tensor
 * from every input checkpoint (and from the extra model inputs the method reads for it), merges it
 * with the merge engine ({@link TensorMerger}, same parameters resolution, plan-time analysis and
 * counter-based randomness as {@code mergeval merge}), and rounds it to the output dtype, exactly as
 * writing the merge to disk and reading it back would. Only one tensor per input is in memory at a
 * time. A method's plan-time analysis is obtained once, before the first tensor is merged.
 *
 * <p>Output dtype: {@code out_dtype}, else {@code dtype}, else the base model's stored dtype of
 * that tensor (the first model's when there is no base; for a {@code slices:} config, its inputs').
 * A {@code slices:} config's tensors are its {@link MergeLayout}'s, each read from its route's inputs.
 */
final class MergedTensorSource implements TensorSource {

    private final MergeConfig config;
    private final MergeInputs inputs;
    private final Checkpoint reference;
    private final int numLayers;
    private final long seed;
    private final DType outDtype;
    private final Set<String> names;
    private final Map<String, MergeLayout.Route> routes;
    private final Supplier<PlanAnalysis> analysis;
    private volatile TensorMerger merger;

    /**
     * @param inputs the merge's open inputs (this source closes them)
     * @param numLayers decoder layers (for per-layer parameter gradients)
     * @param analysis the method's plan-time analysis, asked for once before the first merge
     */
    public MergedTensorSource(MergeInputs inputs, int numLayers, long seed, Supplier<PlanAnalysis> analysis) {
        this.config = inputs.config();
        this.inputs = inputs;
        this.reference = inputs.reference();
        this.numLayers = numLayers;
        this.seed = seed;
        this.analysis = analysis;
        this.outDtype = config.outDtype().or(config::dtype).map(DType::fromTorchName).orElse(null);
        this.routes = inputs.layout() == null ? null : inputs.layout().byName();
        this.names = Collections.unmodifiableSet(new LinkedHashSet<>(
                routes == null ? MergeInputs.weights(reference) : routes.keySet()));
    }

    /**
     * Checks, from the headers, that each extra model input holds the tensors the method reads from
     * it before any analysis decides (for {@code resta}: every tensor), in the base model's shapes.
     */
    @Override
    public void check() {
        inputs.checkExtras(inputs.mergedTensors(), inputs.merger(numLayers, PlanAnalysis.NONE));
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
        return routes == null ? inputs.shape(name) : route(name).spec().shape();
    }

    private MergeLayout.Route route(String name) {
        MergeLayout.Route route = routes.get(name);
        if (route == null) {
            throw new BadInputException("merge " + config.sourceName() + ": no tensor '" + name + "'");
        }
        return route;
    }

    @Override
    public float[] readFloats(String name) {
        long[] shape = shape(name);
        TensorMerger m = merger();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : m.inputs(name).entrySet()) {
            Checkpoint c = inputs.models().get(e.getKey());
            String input = e.getValue();
            if (!c.contains(input)) {
                throw new BadInputException(c.location() + ": missing tensor '" + input + "' needed by the merge");
            }
            if (!EmbeddingRows.supplies(name, c.info(input).shape(), shape)) {
                throw new BadInputException(c.location() + ": tensor '" + input + "' has shape "
                        + Arrays.toString(c.info(input).shape()) + ", the base has " + Arrays.toString(shape));
            }
            values.put(e.getKey(), c.readFloats(input, 0, Math.toIntExact(Shapes.numElements(shape))));
        }
        Map<String, float[]> extras = new LinkedHashMap<>();
        for (String parameter : m.extrasFor(name)) {
            extras.put(parameter, inputs.read(parameter, name));
        }
        float[] merged = m.merge(name, shape, 0, values, extras, seed);
        DType dt = outDtype != null ? outDtype
                : routes == null ? reference.info(name).dtype() : route(name).spec().dtype();
        TensorCodec.roundTo(dt, merged, 0, merged.length);
        return merged;
    }

    private TensorMerger merger() {
        TensorMerger m = merger;
        if (m == null) {
            synchronized (this) {
                m = merger;
                if (m == null) {
                    m = inputs.merger(numLayers, analysis.get());
                    merger = m;
                }
            }
        }
        return m;
    }

    @Override
    public void close() {
        inputs.close();
    }
}
