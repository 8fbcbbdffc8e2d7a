package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.common.Sha256;
import dev.mergeval.merge.EmbeddingRows;
import dev.mergeval.merge.AnalysisRunner;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.MergeLayout;
import dev.mergeval.merge.MergekitArchitectures;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.merge.VocabularyAlignment;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;

/**
 * Builds a {@link MergePlan} on the driver from the inputs' headers: no tensor data is read, except
 * by a method's plan-time analysis ({@link dev.mergeval.merge.MergeMethod#analyze}). Checks that
 * the inputs agree (every mismatch is listed in one error) and that each extra model input holds
 * the tensors the method reads from it in the base model's shapes, runs the analysis, fixes the
 * output dtypes and order, and cuts the work into units that never mix layers. A {@code slices:}
 * config takes its output tensors, their inputs and the layer count from its
 * {@link MergeLayout}, which checks the inputs of each tensor instead. Either way each model must
 * hold the weights that mergekit's definition of its architecture requires of it
 * ({@link dev.mergeval.merge.MergekitWeights}).
 */
final class MergePlanner {

    private MergePlanner() {
    }

    /**
     * Quantized weights (FP8: {@link MergeInputs#isMergeable} is false for them) are carried through
     * from one input as they are. Only {@code passthrough}, which copies its one model, may meet
     * them, and not where it scales them (the factor would belong on their dequantization scales,
     * other tensors): any other method would write one model's quantized codes beside merged
     * scales, a broken model that loads without a word. Bad input naming the model and tensor.
     */
    static void checkQuantized(MergeConfig config, List<OutputTensor> tensors, Supplier<TensorMerger> mergers) {
        TensorMerger merger = null;
        for (OutputTensor t : tensors) {
            if (t.merged() || !t.dtype().isFloatingPoint()) {
                continue;
            }
            merger = merger == null ? mergers.get() : merger;
            String model = merger.inputs(t.name()).keySet().iterator().next();
            String what = "model '" + model + "' tensor " + t.name() + " is " + t.dtype().torchName()
                    + ", a quantized weight: ";
            if (!config.mergeMethod().equals("passthrough")) {
                throw config.error("merge_method", what + config.mergeMethod() + " cannot merge it (Mergeval"
                        + " merges float32, float16, bfloat16 and float64 weights); merge the checkpoints it was"
                        + " quantized from");
            }
            if (merger.params(t.name()).perModel().get(0).has("scale")) {
                throw config.error("scale", what + "passthrough copies it as it is and cannot scale it; leave it"
                        + " out of the scale's filter");
            }
        }
    }

    /**
     * mergekit's rule for models of different architectures: merged only when asked for, as tensors
     * of the same names and shapes can mean different things in them. Models are compared by the
     * definition mergekit has for them ({@link MergekitArchitectures}), so {@code LlamaForCausalLM}
     * and {@code LLaMaForCausalLM} are one; where any model has none (or no {@code architectures}),
     * mergekit infers the layout from the tensors and compares nothing, and neither does this.
     */
    static void checkArchitectures(MergeConfig config, Map<String, Checkpoint> models) {
        Map<String, MergekitArchitectures.Definition> definitions = new LinkedHashMap<>();
        for (Map.Entry<String, Checkpoint> model : models.entrySet()) {
            Optional<MergekitArchitectures.Definition> d = MergekitArchitectures.of(model.getValue().config());
            if (d.isEmpty()) {
                return;
            }
            definitions.put(model.getKey(), d.get());
        }
        String firstModel = definitions.keySet().iterator().next();
        MergekitArchitectures.Definition first = definitions.get(firstModel);
        definitions.forEach((model, definition) -> {
            if (!definition.equals(first)) {
                throw config.error("models", "model '" + model + "' is a " + architecture(models.get(model))
                        + " and model '" + firstModel + "' a " + architecture(models.get(firstModel))
                        + " (mergekit's definitions " + definition.name() + " and " + first.name()
                        + "); different architectures are merged only when asked for"
                        + " (mergeval merge --allow-crimes, as mergekit-yaml)");
            }
        });
    }

    private static String architecture(Checkpoint model) {
        return model.config().path("architectures").get(0).asText();
    }

    /**
     * The plan of {@code config}; a plan-time analysis reports its progress to {@code progress} and
     * runs its per-tensor work where {@code runner} puts it.
     */
    public static MergePlan plan(MergeConfig config, long seed, PlanOptions options, Configuration conf,
            Progress progress, AnalysisRunner runner) {
        Map<String, String> modelUris = new LinkedHashMap<>();
        config.inputModels().forEach(ref -> modelUris.put(ref, resolve(ref)));
        Map<String, String> extraUris = new LinkedHashMap<>();
        config.extraModels().keySet().forEach(parameter -> extraUris.put(parameter, config.resolve(parameter)));
        List<PlanInput> inputs = new ArrayList<>();
        modelUris.forEach((ref, uri) -> inputs.add(new PlanInput(ref, uri)));
        config.extraModels().forEach((parameter, ref) -> inputs.add(new PlanInput(ref, extraUris.get(parameter), parameter)));
        String copySource = config.referenceModel();
        MergeInputs.checkFiles(config, conf);
        try (MergeInputs open = MergeInputs.open(config, modelUris, extraUris, conf)) {
            if (!options.mixedArchitectures()) {
                checkArchitectures(config, open.models());
            }
            Map<String, List<TensorInfo>> headers = new LinkedHashMap<>();
            Map<String, List<ShardFile>> files = new LinkedHashMap<>();
            for (PlanInput in : inputs) {
                Checkpoint input = in.isExtra() ? open.extras().get(in.parameter()) : open.models().get(in.ref());
                headers.put(in.key(), infos(input));
                files.put(in.key(), input.shardFiles());
            }
            VocabularyAlignment alignment = open.alignment();
            MergeLayout layout = open.layout();
            List<TensorInfo> reference;
            int numLayers;
            if (layout == null) {
                Map<String, List<TensorInfo>> modelHeaders = new LinkedHashMap<>(headers);
                modelHeaders.keySet().retainAll(modelUris.keySet());
                checkCompatible(modelHeaders, copySource);
                reference = headers.get(copySource);
                numLayers = MergeLayout.layerCount(open.models().get(copySource));
            } else {
                reference = layout.tensors().stream().map(MergeLayout.Route::spec).toList();
                numLayers = layout.numLayers();
            }
            open.checkRequiredWeights();

            Optional<DType> outDtype = config.outDtype().or(config::dtype).map(DType::fromTorchName);
            List<OutputTensor> tensors = new ArrayList<>();
            for (TensorInfo info : reference) {
                boolean merged = MergeInputs.isMergeable(info.dtype());
                DType dtype = merged ? outDtype.orElse(info.dtype()) : info.dtype();
                long[] shape = layout == null ? open.shape(info.name()) : info.shape();
                tensors.add(new OutputTensor(info.name(), dtype, shape, merged));
            }
            int layers = numLayers;
            checkQuantized(config, tensors, () -> open.merger(layers, PlanAnalysis.NONE));
            List<String> mergedNames = tensors.stream().filter(OutputTensor::merged).map(OutputTensor::name).toList();
            PlanAnalysis analysis = open.analyze(numLayers, mergedNames, conf, Runtime.getRuntime().availableProcessors(),
                    progress, runner);
            TensorMerger merger = open.merger(numLayers, analysis);
            List<WorkUnit> units = cutUnits(tensors, merger, options);
            String planId = planId(config, seed, options, inputs, headers, alignment, tensors, units, analysis);
            if (alignment != null) {
                MergeInputs.remember(planId, alignment);
            }
            // A modules config travels laid out as slices, as the layout routes it.
            return new MergePlan(planId, open.config(), seed, inputs, copySource, merger.positions(), tensors,
                    options.maxShardBytes(), units, options.chunkElements(), analysis, merger.params(mergedNames),
                    layout, files);
        }
    }

    private static List<TensorInfo> infos(Checkpoint ckpt) {
        List<TensorInfo> infos = new ArrayList<>();
        for (String name : MergeInputs.weights(ckpt)) {
            infos.add(ckpt.info(name));
        }
        return infos;
    }

    /** Relative local paths become absolute file URIs, so executors elsewhere read the same files. */
    static String resolve(String ref) {
        return MergeConfig.resolvePath(ref, null);
    }

    /**
     * Lists every disagreement between the inputs, not just the first. Embeddings may differ in
     * their rows ({@link EmbeddingRows}), and floating-point tensors in their dtype.
     */
    static void checkCompatible(Map<String, List<TensorInfo>> headers, String referenceRef) {
        Map<String, TensorInfo> reference = byName(headers.get(referenceRef));
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, List<TensorInfo>> e : headers.entrySet()) {
            if (e.getKey().equals(referenceRef)) {
                continue;
            }
            Map<String, TensorInfo> other = byName(e.getValue());
            Set<String> missing = new LinkedHashSet<>(reference.keySet());
            missing.removeAll(other.keySet());
            Set<String> extra = new LinkedHashSet<>(other.keySet());
            extra.removeAll(reference.keySet());
            for (String name : missing) {
                problems.add(e.getKey() + " lacks tensor " + name);
            }
            for (String name : extra) {
                problems.add(e.getKey() + " has extra tensor " + name);
            }
            for (TensorInfo ref : reference.values()) {
                TensorInfo t = other.get(ref.name());
                if (t == null) {
                    continue;
                }
                if (EmbeddingRows.common(ref.name(), List.of(ref.shape(), t.shape())) == null) {
                    String what = EmbeddingRows.isEmbedding(ref.name()) ? "hidden size differs: " : "shape differs: ";
                    problems.add(e.getKey() + " tensor " + ref.name() + " " + what
                            + Arrays.toString(t.shape()) + " vs " + Arrays.toString(ref.shape()) + " in " + referenceRef);
                }
                if (!MergeInputs.mergeTogether(ref.dtype(), t.dtype())) {
                    problems.add(e.getKey() + " tensor " + ref.name() + " dtype differs: "
                            + t.dtype() + " vs " + ref.dtype() + " in " + referenceRef);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException("inputs are not compatible (" + problems.size() + " problem"
                    + (problems.size() == 1 ? "" : "s") + "): " + String.join("; ", problems));
        }
    }

    private static Map<String, TensorInfo> byName(List<TensorInfo> infos) {
        Map<String, TensorInfo> map = new LinkedHashMap<>();
        for (TensorInfo t : infos) {
            map.put(t.name(), t);
        }
        return map;
    }

    /**
     * Consecutive tensors of one group (layer, or a lone non-layer tensor) share a unit up to
     * {@code maxUnitBytes}; an element-wise tensor larger than that is split into row ranges.
     */
    static List<WorkUnit> cutUnits(List<OutputTensor> tensors, TensorMerger merger, PlanOptions options) {
        List<WorkUnit> units = new ArrayList<>();
        List<TensorSlice> current = new ArrayList<>();
        String currentGroup = null;
        long currentBytes = 0;
        for (OutputTensor t : tensors) {
            String group = groupOf(t.name());
            boolean splittable = !t.merged() || merger.chunkable(t.name());
            boolean fits = currentBytes + t.byteLength() <= options.maxUnitBytes();
            if (currentGroup != null && (!group.equals(currentGroup) || !fits)) {
                units.add(new WorkUnit(units.size(), currentGroup, current));
                current = new ArrayList<>();
                currentBytes = 0;
            }
            currentGroup = group;
            if (splittable && t.byteLength() > options.maxUnitBytes()) {
                long rowElements = t.rowElements();
                long rows = t.numElements() / rowElements;
                long rowsPerUnit = Math.max(1, options.maxUnitBytes() / (rowElements * t.dtype().byteSize()));
                for (long r = 0; r < rows; r += rowsPerUnit) {
                    long n = Math.min(rowsPerUnit, rows - r);
                    units.add(new WorkUnit(units.size(), group,
                            List.of(new TensorSlice(t.name(), r * rowElements, n * rowElements))));
                }
                currentGroup = null;
                continue;
            }
            current.add(new TensorSlice(t.name(), 0, t.numElements()));
            currentBytes += t.byteLength();
        }
        if (currentGroup != null && !current.isEmpty()) {
            units.add(new WorkUnit(units.size(), currentGroup, current));
        }
        return units;
    }

    static String groupOf(String tensorName) {
        int layer = TensorMerger.layerIndex(tensorName);
        return layer >= 0 ? "layers." + layer : tensorName;
    }

    private static String planId(MergeConfig config, long seed, PlanOptions options, List<PlanInput> inputs,
            Map<String, List<TensorInfo>> headers, VocabularyAlignment alignment, List<OutputTensor> tensors,
            List<WorkUnit> units, PlanAnalysis analysis) {
        TextDigest text = new TextDigest();
        text.line().append(config.normalizedYaml()).append('\n').append(seed).append('\n')
                .append(options.maxShardBytes()).append('\n');
        for (PlanInput in : inputs) {
            text.line().append(in.key()).append('=').append(in.uri()).append('\n');
            for (TensorInfo t : headers.get(in.key())) {
                text.line().append(t.name()).append(' ').append(t.dtype()).append(Arrays.toString(t.shape()))
                        .append(' ').append(t.begin()).append('-').append(t.end()).append('\n');
            }
        }
        if (alignment != null) {
            text.line().append("vocabulary ").append(alignment.fingerprint()).append('\n');
        }
        tensors.forEach(t -> text.line().append(t).append('\n'));
        units.forEach(u -> text.line().append(u).append('\n'));
        config.fileParameters().forEach((name, file) -> text.line().append(name).append('=').append(file).append('\n'));
        text.line().append("analysis ").append(analysis.digest()).append('\n');
        return text.hex();
    }

    /**
     * A text's SHA-256 (its UTF-8 bytes), hashed as it is written a few lines at a time: the plan's
     * text for tens of thousands of tensors is tens of MB, which one string would hold whole, and
     * copy as it grew and again to encode it. Split only where a line ends, so no character is.
     */
    private static final class TextDigest {
        private final MessageDigest digest = Sha256.digest();
        private final StringBuilder pending = new StringBuilder();

        /** Where the next line goes, once the lines before it may have been hashed. */
        StringBuilder line() {
            if (pending.length() >= 1 << 16) {
                flush();
            }
            return pending;
        }

        private void flush() {
            digest.update(pending.toString().getBytes(StandardCharsets.UTF_8));
            pending.setLength(0);
        }

        String hex() {
            flush();
            return Sha256.hex(digest);
        }
    }
}
