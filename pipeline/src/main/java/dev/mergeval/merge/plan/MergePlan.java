package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.merge.LayerPositions;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeLayout;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.merge.TensorParams;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything needed to produce the output, fixed on the driver before any tensor is read. The plan
 * is small (no tensor data) and serializable, so it ships to executors as is: they merge with the
 * parsed config and the parameters resolved here, and read no YAML.
 *
 * @param planId content hash of everything below and of the inputs' headers; names the staging
 *     area so that a re-run of the same plan resumes
 * @param config the merge config, as parsed on the driver
 * @param seed the seed of the counter-based randomness (DARE, DELLA)
 * @param inputs the input models, in the config's order (base first), then the extra model inputs
 *     named by parameters
 * @param copySource reference of the model whose non-float tensors, config and tokenizer are copied
 * @param positions the output's layer count and where each layer sits for a {@code models:} config's
 *     gradients (its stacks, its multi-token-prediction layers)
 * @param tensors the output tensors, in output order
 * @param maxShardBytes the output shard size limit
 * @param units the work, each unit within one layer
 * @param chunkElements elements per input held at once by element-wise methods (memory only: the
 *     output does not depend on it)
 * @param analysis the method's plan-time analysis ({@link PlanAnalysis#NONE} for most methods)
 * @param params the parameters resolved for each merged tensor, by name in output order
 * @param layout where each output tensor of a {@code slices:} config comes from; null for a
 *     {@code models:} config
 * @param inputFiles the files of each input (by {@link PlanInput#key()}, in the inputs' order) as
 *     the planner found them, whose digests the provenance records
 */
public record MergePlan(
        String planId,
        MergeConfig config,
        long seed,
        List<PlanInput> inputs,
        String copySource,
        LayerPositions positions,
        List<OutputTensor> tensors,
        long maxShardBytes,
        List<WorkUnit> units,
        int chunkElements,
        PlanAnalysis analysis,
        Map<String, TensorParams> params,
        MergeLayout layout,
        Map<String, List<ShardFile>> inputFiles) implements Serializable {

    public MergePlan {
        inputs = List.copyOf(inputs);
        Map<String, List<ShardFile>> files = new LinkedHashMap<>();
        inputFiles.forEach((key, list) -> files.put(key, List.copyOf(list)));
        inputFiles = Collections.unmodifiableMap(files);
        tensors = OutputTensors.of(tensors);
        units = List.copyOf(units);
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    /** The output's decoder layer count. */
    public int numLayers() {
        return positions.layers();
    }

    /** The normalized merge config ({@link MergeConfig#normalizedYaml()}). */
    public String configYaml() {
        return config.normalizedYaml();
    }

    /** The URI of the model {@code ref} of {@code models}/{@code base_model}. */
    public String uriOf(String ref) {
        for (PlanInput in : inputs) {
            if (!in.isExtra() && in.ref().equals(ref)) {
                return in.uri();
            }
        }
        throw new IllegalArgumentException("no input " + ref + " in plan " + planId);
    }

    /** Where each model is read, by reference. */
    public Map<String, String> modelUris() {
        Map<String, String> uris = new LinkedHashMap<>();
        inputs.stream().filter(in -> !in.isExtra()).forEach(in -> uris.put(in.ref(), in.uri()));
        return uris;
    }

    /** Where each extra model input is read, by parameter name. */
    public Map<String, String> extraUris() {
        Map<String, String> uris = new LinkedHashMap<>();
        inputs.stream().filter(PlanInput::isExtra).forEach(in -> uris.put(in.parameter(), in.uri()));
        return uris;
    }

    /** The output tensor named {@code name}. */
    public OutputTensor tensor(String name) {
        OutputTensor t = ((OutputTensors) tensors).byName(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name + " in plan " + planId);
        }
        return t;
    }

    /** Output bytes a unit writes (the length of its part file). */
    public long unitBytes(WorkUnit unit) {
        long bytes = 0;
        for (TensorSlice s : unit.slices()) {
            bytes += s.elementCount() * tensor(s.tensor()).dtype().byteSize();
        }
        return bytes;
    }

    public long totalBytes() {
        long bytes = 0;
        for (OutputTensor t : tensors) {
            bytes += t.byteLength();
        }
        return bytes;
    }
}
