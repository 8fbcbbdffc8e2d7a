package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import dev.mergeval.common.Progress;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The open checkpoints of one merge: its models, by reference as written in the config, and its
 * extra model inputs ({@link ParamDef.Kind#MODEL} parameters such as {@code unaligned_model}), by
 * parameter name. An extra input is checked tensor by tensor against the reference model (the base
 * model, else the first), and a tensor it lacks or holds in another shape is bad input naming
 * {@code parameters.NAME} and the tensor. A {@code slices:} config is laid out over the models'
 * headers when first asked ({@link #layout()}; executors of a plan take the plan's).
 */
public final class MergeInputs implements AutoCloseable {

    private final MergeConfig config;
    private final Map<String, Checkpoint> models;
    /** The models as stored, before the views below. */
    private final Map<String, Checkpoint> stored;
    private final Map<String, Checkpoint> extras;
    private final Checkpoint reference;
    /** Where {@link #open} read the models and extras, for an analysis in another JVM. */
    private final Map<String, String> modelLocations;
    private final Map<String, String> extraLocations;
    private MergeLayout layout;
    /** {@link #donorModels} by input tensor name, from the layout. */
    private Map<String, Set<String>> donors;
    private LayerPositions positions;

    /**
     * The inputs, each seen under the reference model's spelling of its tensor names
     * ({@link AliasedNames}), with its output head tied as the reference model has it ({@link TiedHead})
     * and, with {@code tokenizer_source}, with its token rows re-indexed to the output vocabulary
     * ({@link ReindexedEmbeddings}, the extra inputs too; the vocabularies are read when an embedding
     * is first read).
     */
    private MergeInputs(MergeConfig config, Map<String, Checkpoint> models, Map<String, Checkpoint> extras,
            Map<String, String> modelLocations, Map<String, String> extraLocations, Configuration conf) {
        this.config = config;
        this.stored = Collections.unmodifiableMap(new LinkedHashMap<>(models));
        this.modelLocations = Map.copyOf(modelLocations);
        this.extraLocations = Map.copyOf(extraLocations);
        String referenceRef = config.referenceModel();
        Checkpoint stored = models.get(referenceRef);
        Map<String, Checkpoint> tiedModels = new LinkedHashMap<>();
        models.forEach((ref, model) -> tiedModels.put(ref, TiedHead.view(AliasedNames.view(model, stored), stored)));
        Map<String, Checkpoint> tiedExtras = new LinkedHashMap<>();
        extras.forEach((parameter, model) -> tiedExtras.put(parameter,
                TiedHead.view(AliasedNames.view(model, stored), stored)));
        Map<String, Checkpoint> views = tiedModels;
        Map<String, Checkpoint> extraViews = tiedExtras;
        if (config.tokenizerSource().isPresent()) {
            Map<String, Checkpoint> storedModels = Collections.unmodifiableMap(new LinkedHashMap<>(tiedModels));
            // The extras' rows are read like the models', after them, each named as its errors name it.
            Map<String, Checkpoint> storedExtras = new LinkedHashMap<>();
            tiedExtras.forEach((parameter, model) -> storedExtras.put(
                    "parameters." + parameter + " '" + config.extraModels().get(parameter) + "'", model));
            Map<String, Checkpoint> asStored = new LinkedHashMap<>(storedModels);
            asStored.putAll(storedExtras);
            views = new LinkedHashMap<>();
            int i = 0;
            for (String ref : storedModels.keySet()) {
                views.put(ref, new ReindexedEmbeddings(i++, asStored, this::alignment, this::donorModels));
            }
            extraViews = new LinkedHashMap<>();
            for (String parameter : tiedExtras.keySet()) {
                extraViews.put(parameter, new ReindexedEmbeddings(i++, asStored, this::alignment, this::donorModels));
            }
            alignmentSource = () -> VocabularyAlignment.of(config, storedModels, storedExtras,
                    storedModels.get(referenceRef), conf);
        } else {
            alignmentSource = () -> null;
        }
        this.models = Collections.unmodifiableMap(views);
        this.extras = Collections.unmodifiableMap(extraViews);
        this.reference = this.models.get(referenceRef);
    }

    /** See {@link #alignment()}. */
    private final java.util.function.Supplier<VocabularyAlignment> alignmentSource;
    private VocabularyAlignment alignment;
    private boolean aligned;
    private String plan;

    /** A name as the Hugging Face Hub gives models: {@code owner/name}. */
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][\\w.-]*/[\\w.-]+");

    /**
     * The alignments of the last few plans in this JVM, by plan id (which covers the alignment's
     * fingerprint): the units of a plan, each of which opens the inputs anew, then read the
     * tokenizers once per JVM rather than once per unit.
     */
    private static final Map<String, Optional<VocabularyAlignment>> PLANNED = Collections.synchronizedMap(
            new LinkedHashMap<>(8, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Optional<VocabularyAlignment>> eldest) {
                    return size() > 4;
                }
            });

    /** Marks these as the inputs of plan {@code planId}, whose alignment this JVM may know ({@link #remember}). */
    public MergeInputs ofPlan(String planId) {
        this.plan = planId;
        return this;
    }

    /** Remembers {@code alignment} as plan {@code planId}'s, for the inputs {@link #ofPlan} marks. */
    public static void remember(String planId, VocabularyAlignment alignment) {
        PLANNED.put(planId, Optional.ofNullable(alignment));
    }

    /**
     * The output vocabulary and each model's rows in it ({@link VocabularyAlignment}), read once;
     * null without {@code tokenizer_source}, or where the base model has no {@code tokenizer.json}.
     */
    public synchronized VocabularyAlignment alignment() {
        if (!aligned) {
            Optional<VocabularyAlignment> known = plan == null ? null : PLANNED.get(plan);
            alignment = known != null ? known.orElse(null) : alignmentSource.get();
            if (plan != null && known == null) {
                remember(plan, alignment);
            }
            aligned = true;
        }
        return alignment;
    }

    /**
     * What to do where a model is not found under a name that reads as a Hugging Face id
     * ({@code owner/name}): mergekit downloads those from the Hub.
     */
    private static String hubHint(String ref, BadInputException e) {
        if (!e.getMessage().endsWith(": not found") || !HUB_ID.matcher(ref).matches()) {
            return "";
        }
        return " (mergekit fetches a Hugging Face id such as '" + ref + "' from the Hub; Mergeval reads models"
                + " where they are and downloads nothing: download it, e.g. huggingface-cli download " + ref
                + " --local-dir DIR, and give DIR or its URI)";
    }

    /**
     * Opens every input.
     *
     * @param modelLocations where each of {@link MergeConfig#inputModels()} is read, by reference
     * @param extraLocations where each of {@link MergeConfig#extraModels()} is read, by parameter
     */
    public static MergeInputs open(MergeConfig config, Map<String, String> modelLocations,
            Map<String, String> extraLocations, Configuration conf) {
        return open(config, modelLocations, extraLocations, conf, location -> Checkpoint.open(location, conf));
    }

    /**
     * {@link #open} for a task of {@code job} (a plan, an analysis): each input is opened as
     * {@link Checkpoint#openFor} opens it, so only the job's first task in this JVM reads headers.
     */
    public static MergeInputs openFor(Object job, MergeConfig config, Map<String, String> modelLocations,
            Map<String, String> extraLocations, Configuration conf) {
        return open(config, modelLocations, extraLocations, conf,
                location -> Checkpoint.openFor(job, location, conf));
    }

    private static MergeInputs open(MergeConfig config, Map<String, String> modelLocations,
            Map<String, String> extraLocations, Configuration conf, Function<String, Checkpoint> opener) {
        Map<String, Checkpoint> models = new LinkedHashMap<>();
        Map<String, Checkpoint> extras = new LinkedHashMap<>();
        try {
            for (String ref : config.inputModels()) {
                try {
                    models.put(ref, opener.apply(modelLocations.get(ref)));
                } catch (BadInputException e) {
                    String key = config.baseModel().filter(ref::equals).isPresent() ? "base_model"
                            : config.isModular() ? "modules" : config.isSliced() ? "slices" : "models";
                    throw config.error(key, "model '" + ref + "': " + e.getMessage() + hubHint(ref, e));
                }
            }
            for (String parameter : config.extraModels().keySet()) {
                try {
                    extras.put(parameter, opener.apply(extraLocations.get(parameter)));
                } catch (BadInputException e) {
                    throw config.error("parameters." + parameter, e.getMessage());
                }
            }
            return new MergeInputs(MergekitModules.resolve(config, models), models, extras, modelLocations,
                    extraLocations, conf);
        } catch (RuntimeException e) {
            models.values().forEach(Checkpoint::close);
            extras.values().forEach(Checkpoint::close);
            throw e;
        }
    }

    /**
     * Checks that each {@link ParamDef.Kind#FILE} parameter names a file, where the config is read
     * (the executors of a plan need none of them).
     */
    public static void checkFiles(MergeConfig config, Configuration conf) {
        config.fileParameters().forEach((name, location) -> {
            Path file = new Path(location);
            try {
                if (!HadoopFs.get(file, conf).getFileStatus(file).isFile()) {
                    throw config.error("parameters." + name, file + " is not a file");
                }
            } catch (FileNotFoundException e) {
                throw config.error("parameters." + name, file + ": not found");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot stat " + file, e);
            }
        });
    }

    /**
     * Opens the inputs where the config names them (models as written, extras by
     * {@link MergeConfig#resolve}), after {@link #checkFiles}.
     */
    public static MergeInputs open(MergeConfig config, Configuration conf) {
        checkFiles(config, conf);
        Map<String, String> models = new LinkedHashMap<>();
        config.inputModels().forEach(ref -> models.put(ref, ref));
        Map<String, String> extras = new LinkedHashMap<>();
        config.extraModels().keySet().forEach(p -> extras.put(p, config.resolve(p)));
        return open(config, models, extras, conf);
    }

    public MergeConfig config() {
        return config;
    }

    /** The models, by reference, in {@link MergeConfig#inputModels()} order. */
    public Map<String, Checkpoint> models() {
        return models;
    }

    /** The extra model inputs, by parameter name. */
    public Map<String, Checkpoint> extras() {
        return extras;
    }

    /**
     * The model whose config and tokenizer the output takes, and for a {@code models:} config its
     * tensor names and shapes.
     */
    public Checkpoint reference() {
        return reference;
    }

    /**
     * The shape of output tensor {@code tensor}: its route's for a {@code slices:} config, else the
     * reference model's, where for an embedding the rows all models have ({@link EmbeddingRows}).
     */
    public long[] shape(String tensor) {
        if (layout() != null) {
            MergeLayout.Route route = layout().byName().get(tensor);
            if (route != null) {
                return route.spec().shape();
            }
        }
        long[] shape = reference.info(tensor).shape();
        if (!EmbeddingRows.isEmbedding(tensor)) {
            return shape;
        }
        List<long[]> shapes = models.values().stream().filter(c -> c.contains(tensor))
                .map(c -> c.info(tensor).shape()).toList();
        long[] common = EmbeddingRows.common(tensor, shapes);
        return common != null ? common : shape;
    }

    /**
     * The output's {@code vocab_size} where its embeddings have fewer rows than the reference's
     * config declares ({@link EmbeddingRows#vocabSize}); empty where it stands.
     */
    public OptionalInt outputVocabSize() {
        List<String> names = layout() != null ? List.copyOf(layout().byName().keySet()) : weights(reference);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        names.stream().filter(EmbeddingRows::isEmbedding).forEach(name -> shapes.put(name, shape(name)));
        return EmbeddingRows.vocabSize(shapes, reference.config(), config.tokenizerSource().isPresent());
    }

    /**
     * The models whose rows may fill a token another model lacks in input matrix {@code name}
     * ({@link ReindexedEmbeddings}): with {@code slices:}, the inputs of the output tensors that
     * read it and the base model, the models mergekit's {@code PermutedEmbeddings} sees; every model
     * of a {@code models:} config.
     */
    private synchronized Set<String> donorModels(String name) {
        if (layout() == null) {
            return models.keySet();
        }
        if (donors == null) {
            Map<String, Set<String>> byInput = new HashMap<>();
            for (MergeLayout.Route r : layout().tensors()) {
                r.inputs().values().forEach(input -> byInput.computeIfAbsent(input, k -> new HashSet<>())
                        .addAll(r.inputs().keySet()));
            }
            config.baseModel().ifPresent(base -> byInput.values().forEach(refs -> refs.add(base)));
            donors = byInput;
        }
        return donors.getOrDefault(name, Set.of());
    }

    /** Where each output tensor of a {@code slices:} config comes from; null for a {@code models:} config. */
    public synchronized MergeLayout layout() {
        if (layout == null && config.isSliced()) {
            layout = MergeLayout.of(config, models);
        }
        return layout;
    }

    /**
     * Checks that each model holds the weights that mergekit's definition of its architecture
     * requires of it in this merge ({@link MergekitWeights#check}), as it stores them.
     */
    public void checkRequiredWeights() {
        MergekitWeights.check(config, stored);
    }

    /**
     * A merger for these inputs over {@code numLayers} layers (unused by a layout), placed by
     * {@link #positions} of the reference model, with {@code analysis}.
     */
    public TensorMerger merger(int numLayers, PlanAnalysis analysis) {
        return TensorMerger.create(config, positions(numLayers), analysis, Map.of(), layout());
    }

    /**
     * The {@link LayerPositions} of the reference model over {@code numLayers} decoder layers: its
     * stacks counted once from its tensor names, its multi-token-prediction layers from its config.
     */
    private synchronized LayerPositions positions(int numLayers) {
        if (positions == null || positions.layers() != numLayers) {
            LayerPositions of = LayerPositions.of(numLayers, LayerPositions.trailingLayers(reference.config()),
                    reference.tensorNames());
            // A config.json that counts fewer layers than the weights hold (edited, or another model's):
            // their gradients would have no place, and mergekit would leave them out of the output. A
            // layout's output layers are counted by its slices, not by the reference's config.
            if (!config.isSliced()) {
                of.firstBeyond(reference.tensorNames()).ifPresent(name -> {
                    throw config.error("models", "model '" + config.referenceModel() + "': its config.json counts "
                            + numLayers + " layers" + (of.trailing() > 0 ? " and " + of.trailing() + " "
                            + LayerPositions.TRAILING_KEY : "") + ", but it holds '" + name + "' (layer "
                            + TensorMerger.layerIndex(name) + ")");
                });
            }
            positions = of;
        }
        return positions;
    }

    /** A model by reference, or an extra input by parameter name. */
    public Checkpoint input(String name) {
        Checkpoint c = models.containsKey(name) ? models.get(name) : extras.get(name);
        if (c == null) {
            throw new IllegalArgumentException("no input " + name + " (models " + models.keySet() + ", parameters "
                    + extras.keySet() + ")");
        }
        return c;
    }

    /**
     * Whether a tensor of this dtype is merged. Integer tensors are carried through from the
     * reference model, FP8 ones only by passthrough: averaging quantized codes or integer buffers
     * has no meaning.
     */
    public static boolean isMergeable(DType dtype) {
        return dtype == DType.F32 || dtype == DType.F16 || dtype == DType.BF16 || dtype == DType.F64;
    }

    /**
     * The weights of {@code model} that a merge reads and writes, in its order: every tensor but
     * the rotary embedding's {@code inv_freq} buffers that older Llama checkpoints carry
     * ({@code ...rotary_emb.inv_freq}). transformers computes them from the config and does not
     * load them, mergekit (whose architectures list weights only) leaves them out, and so does
     * Mergeval: they need not agree between the inputs and are not in the output.
     */
    public static List<String> weights(Checkpoint model) {
        return model.tensorNames().stream().filter(MergeInputs::isWeight).toList();
    }

    /** Whether a tensor of this name is a weight ({@link #weights}), not a buffer the merge leaves out. */
    static boolean isWeight(String name) {
        return !name.endsWith("rotary_emb.inv_freq");
    }

    /**
     * Whether inputs stored as {@code a} and {@code b} merge into one tensor: the same dtype, or
     * both floating point (each is read as its own floats, as mergekit loads each model and
     * converts it; a BF16 base and a fine-tune saved in F32 is common).
     */
    public static boolean mergeTogether(DType a, DType b) {
        return a == b || isMergeable(a) && isMergeable(b);
    }

    /**
     * The tensors the merge computes: the mergeable output tensors of the layout, or of the
     * reference model, in output order.
     */
    public List<String> mergedTensors() {
        if (layout() != null) {
            return layout().tensors().stream().filter(r -> isMergeable(r.spec().dtype()))
                    .map(MergeLayout.Route::name).toList();
        }
        return weights(reference).stream().filter(t -> isMergeable(reference.info(t).dtype())).toList();
    }

    /** {@link #analyze(int, List, Configuration, int, Progress, AnalysisRunner)} in this JVM. */
    public PlanAnalysis analyze(int numLayers, List<String> tensors, Configuration conf, int threads,
            Progress progress) {
        return analyze(numLayers, tensors, conf, threads, progress, AnalysisRunner.LOCAL);
    }

    /**
     * Runs the method's plan-time analysis ({@link MergeMethod#analyze}) over {@code tensors}, its
     * per-tensor work where {@code runner} puts it (in this JVM on {@code threads} threads),
     * reporting to {@code progress}, then checks every extra input against the base model for each
     * tensor the method will read from it, so that a mismatch fails here and not while merging.
     */
    public PlanAnalysis analyze(int numLayers, List<String> tensors, Configuration conf, int threads,
            Progress progress, AnalysisRunner runner) {
        AnalysisContext.Remote remote = new AnalysisContext.Remote(config, modelLocations, extraLocations, numLayers,
                tensors);
        PlanAnalysis analysis = config.method().analyze(new AnalysisContext(this,
                merger(numLayers, PlanAnalysis.NONE), tensors, conf, threads, progress, runner, remote));
        checkExtras(tensors, merger(numLayers, analysis));
        return analysis;
    }

    /**
     * Checks every extra input against the base model for each of {@code tensors} that
     * {@code merger} reads it for (with a merger made without the analysis: for each tensor the
     * method reads it for whatever the analysis decides), from the headers alone.
     */
    public void checkExtras(List<String> tensors, TensorMerger merger) {
        for (String tensor : tensors) {
            for (String parameter : merger.extrasFor(tensor)) {
                checkExtra(parameter, tensor);
            }
        }
    }

    /** Checks that extra input {@code parameter} holds {@code tensor} in the reference model's shape. */
    public void checkExtra(String parameter, String tensor) {
        Checkpoint extra = extras.get(parameter);
        String key = "parameters." + parameter;
        if (!extra.contains(tensor)) {
            throw config.error(key, extra.location() + " has no tensor '" + tensor + "', which the merge reads");
        }
        TensorInfo have = extra.info(tensor);
        long[] want = reference.info(tensor).shape();
        if (!Arrays.equals(have.shape(), want) && !EmbeddingRows.supplies(tensor, have.shape(), shape(tensor))) {
            throw config.error(key, "tensor '" + tensor + "' of " + extra.location() + " has shape "
                    + Arrays.toString(have.shape()) + ", the base model's has " + Arrays.toString(want));
        }
    }

    /**
     * Elements {@code [offset, offset + count)} of {@code tensor} from a model (by reference) or an
     * extra input (by parameter, checked first), into {@code dst}.
     */
    public void read(String name, String tensor, long offset, float[] dst, int count) {
        if (extras.containsKey(name)) {
            checkExtra(name, tensor);
        }
        input(name).readFloats(tensor, offset, dst, 0, count);
    }

    /** The whole of {@code tensor} from a model or an extra input, as {@link #read}. */
    public float[] read(String name, String tensor) {
        float[] out = new float[Math.toIntExact(Shapes.numElements(shape(tensor)))];
        read(name, tensor, 0, out, out.length);
        return out;
    }

    @Override
    public void close() {
        models.values().forEach(Checkpoint::close);
        extras.values().forEach(Checkpoint::close);
    }
}
