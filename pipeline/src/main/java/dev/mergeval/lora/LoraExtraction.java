package dev.mergeval.lora;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.LoraAdapter;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.merge.EmbeddingRows;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.ModelCard;
import dev.mergeval.merge.TiedHead;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.LoraAdapterProvenance;
import dev.mergeval.provenance.Provenance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code mergeval extract-lora}: a PEFT LoRA adapter that turns BASE into (approximately) FT. For
 * each matrix {@code D = FT - BASE} of a 2-D {@code <module>.weight} (embeddings and the output head
 * excepted unless asked, and as {@link Selection} chooses), the best rank-R approximation in the
 * Frobenius norm (Eckart-Young: the truncated SVD, {@link DeltaDecomposer}) becomes
 * {@code lora_A [r, in]} and {@code lora_B [out, r]} with {@code lora_alpha = r}, so PEFT's
 * {@code lora_alpha / r * B @ A} is that approximation. An embedding {@code [vocab, dim]} is looked
 * up, not multiplied, and PEFT adapts it by {@code (B @ A)^T} with {@code lora_embedding_A [r, vocab]}
 * and {@code lora_embedding_B [dim, r]}: the factors of {@code D^T}, which are those of {@code D}
 * transposed and swapped, as mergekit-extract-lora writes them with {@code --embed-lora}. Modules
 * whose difference has a lower rank keep it and are zero-padded to the adapter's one {@code r} (the
 * largest rank kept), so the config needs no {@code rank_pattern} that some engines ignore; their own
 * rank is in the provenance.
 *
 * <p>The bias of a decomposed linear module, where it differs, is written exactly as the module's
 * {@code lora_B} bias ({@code FT - BASE}, float32; {@code lora_bias: true} in the config, PEFT 0.14
 * and later), as mergekit writes it: PEFT takes a module listed in {@code modules_to_save} whole and
 * would drop its LoRA factors. Every other tensor that differs (norms, other biases, embeddings) is
 * saved whole, FT's bytes, under PEFT's {@code modules_to_save} ({@code base_model.model.<tensor>},
 * module listed in the config), as mergekit saves its undecomposable modules; {@link Other#REPORT}
 * lists them, and the biases above, in the provenance instead. Tensors equal in both are left out.
 * An embedding or output head with more (or fewer) rows in FT than in BASE (a fine-tune that added
 * tokens, {@link EmbeddingRows}) is saved whole whatever the options say, as mergekit does, and
 * applying the adapter needs BASE's embeddings resized to FT's rows first (PEFT:
 * {@code resize_token_embeddings}). Where one of the two models ties its
 * embeddings (no {@code lm_head.weight}) and the other has a head, the tied model's head is its
 * input embedding, as mergekit reads it ({@link TiedHead#aliased}).
 *
 * <p>Plan (names, shapes and dtypes checked on this JVM before any work), execute (one task per
 * tensor on an {@link ExtractExecutor}), commit (the adapter staged beside {@code OUT_DIR} with the
 * provenance last, then published atomically by {@link OutputPublisher}), as {@code mergeval merge}.
 * The driver holds the factors (the adapter's size) and reads the whole tensors it saves.
 */
public final class LoraExtraction {

    private static final Logger LOG = LoggerFactory.getLogger(LoraExtraction.class);

    static final String PEFT_PREFIX = "base_model.model.";
    /** The provenance's action for a bias written as its module's {@code lora_B} bias. */
    static final String LORA_BIAS = "lora_bias";

    /** What to do with tensors that differ and are not decomposed. */
    public enum Other {
        /** Save them whole under {@code modules_to_save} (mergekit's default). */
        SAVE,
        /** List them in the provenance only; the adapter then leaves them at BASE's values. */
        REPORT;

        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * @param model          FT: a model directory, URI or {@code BASE+ADAPTER}
     * @param baseModel      BASE
     * @param maxRank        the largest rank per matrix ({@code >= 1})
     * @param outDir         the adapter directory to publish
     * @param overwrite      replace an occupied {@code outDir}
     * @param svd            which SVD decomposes a matrix
     * @param exactLimit     with {@link ExtractionPlan.Svd#AUTO}, the largest {@code min(rows, cols)} decomposed exactly
     * @param other          what to do with tensors that differ and are not decomposed
     * @param selection      which tensors are decomposed, saved or left out
     * @param factors        how singular values become factors
     * @param seed           seed of the randomized SVD's sketch
     */
    public record Request(String model, String baseModel, int maxRank, String outDir, boolean overwrite,
            ExtractionPlan.Svd svd, int exactLimit, Other other, Selection selection, ExtractionPlan.Factors factors,
            long seed) {

        /** The defaults: auto SVD up to {@link TruncatedSvd#EXACT_LIMIT}, other tensors saved, seed 0. */
        public static Request of(String model, String baseModel, int maxRank, String outDir) {
            return new Request(model, baseModel, maxRank, outDir, false, ExtractionPlan.Svd.AUTO,
                    TruncatedSvd.EXACT_LIMIT, Other.SAVE, Selection.DEFAULT, ExtractionPlan.Factors.DEFAULT, 0L);
        }

        public Request withOverwrite(boolean value) {
            return new Request(model, baseModel, maxRank, outDir, value, svd, exactLimit, other, selection, factors,
                    seed);
        }

        public Request withOutDir(String value) {
            return new Request(model, baseModel, maxRank, value, overwrite, svd, exactLimit, other, selection, factors,
                    seed);
        }

        public Request withSelection(Selection value) {
            return new Request(model, baseModel, maxRank, outDir, overwrite, svd, exactLimit, other, value, factors,
                    seed);
        }

        /**
         * The {@code mergeval extract-lora} command that makes this request, options at their
         * defaults left out, each argument quoted for a POSIX shell where it needs to be.
         */
        public String commandLine() {
            List<String> a = new ArrayList<>(List.of("mergeval", "extract-lora", "--model", model, "--base-model",
                    baseModel, "--max-rank", String.valueOf(maxRank)));
            if (svd != ExtractionPlan.Svd.AUTO) {
                a.addAll(List.of("--svd", svd.name().toLowerCase(Locale.ROOT)));
            }
            if (exactLimit != TruncatedSvd.EXACT_LIMIT) {
                a.addAll(List.of("--exact-limit", String.valueOf(exactLimit)));
            }
            if (other != Other.SAVE) {
                a.addAll(List.of("--other", other.json()));
            }
            if (selection.includeLmHead()) {
                a.add("--include-lm-head");
            }
            if (selection.embedLora()) {
                a.add("--embed-lora");
            }
            selection.saveModules().forEach(m -> a.addAll(List.of("--save-module", m)));
            selection.includeRegexes().forEach(r -> a.addAll(List.of("--include-regex", r)));
            selection.excludeRegexes().forEach(r -> a.addAll(List.of("--exclude-regex", r)));
            if (factors.svEpsilon() != 0) {
                a.addAll(List.of("--sv-epsilon", String.valueOf(factors.svEpsilon())));
            }
            if (!factors.distributeScale()) {
                a.add("--no-distribute-scale");
            }
            if (seed != 0) {
                a.addAll(List.of("--random-seed", String.valueOf(seed)));
            }
            if (overwrite) {
                a.add("--overwrite");
            }
            a.add(outDir);
            return a.stream().map(Request::quoted).collect(Collectors.joining(" "));
        }

        private static String quoted(String arg) {
            return arg.matches("[A-Za-z0-9_@%+=:,./-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
        }

        public Request withFactors(ExtractionPlan.Factors value) {
            return new Request(model, baseModel, maxRank, outDir, overwrite, svd, exactLimit, other, selection, value,
                    seed);
        }
    }

    /**
     * Which tensors go into the adapter, and how, by their module's name (the tensor name without
     * {@code .weight}/{@code .bias}), as mergekit-extract-lora's options choose them.
     *
     * @param includeLmHead  decompose the output head ({@code lm_head}) too, as a linear module
     * @param embedLora      decompose the input embeddings as PEFT embedding LoRA, and the output head as
     *                       a linear module ({@code --embed-lora}); without it they are saved or reported
     *                       like other tensors
     * @param saveModules    modules saved whole if they differ, never decomposed ({@code --save-module}):
     *                       a module matches a name it equals or ends with after a dot
     * @param includeRegexes when not empty, only modules in which one of them is found take part
     *                       ({@code --include-regex})
     * @param excludeRegexes modules in which one of them is found take no part ({@code --exclude-regex})
     */
    public record Selection(boolean includeLmHead, boolean embedLora, List<String> saveModules,
            List<String> includeRegexes, List<String> excludeRegexes) {

        public static final Selection DEFAULT = new Selection(false, false, List.of(), List.of(), List.of());

        public Selection {
            saveModules = List.copyOf(saveModules);
            includeRegexes = List.copyOf(includeRegexes);
            excludeRegexes = List.copyOf(excludeRegexes);
            compile(includeRegexes, "--include-regex");
            compile(excludeRegexes, "--exclude-regex");
        }

        public Selection withEmbedLora(boolean value) {
            return new Selection(includeLmHead, value, saveModules, includeRegexes, excludeRegexes);
        }

        /** Whether the options leave a module out of the adapter altogether (the regexes compiled once). */
        Predicate<String> excluded() {
            List<Pattern> include = compile(includeRegexes, "--include-regex");
            List<Pattern> exclude = compile(excludeRegexes, "--exclude-regex");
            return module -> (!include.isEmpty() && include.stream().noneMatch(p -> p.matcher(module).find()))
                    || exclude.stream().anyMatch(p -> p.matcher(module).find());
        }

        /** Whether {@code --save-module} names {@code module}. */
        boolean saves(String module) {
            return saveModules.stream().anyMatch(s -> module.equals(s) || module.endsWith("." + s));
        }

        private static List<Pattern> compile(List<String> regexes, String option) {
            List<Pattern> out = new ArrayList<>();
            for (String r : regexes) {
                try {
                    out.add(Pattern.compile(r));
                } catch (PatternSyntaxException e) {
                    throw new BadInputException(option + " '" + r + "': not a regular expression ("
                            + e.getDescription() + ")");
                }
            }
            return out;
        }
    }

    /** What was published. */
    public record Outcome(String outDir, LoraAdapterProvenance provenance) {
    }

    private LoraExtraction() {
    }

    /** Checks the request and both models and lists the tensors; writes nothing. */
    public static ExtractionPlan plan(Request r, Configuration conf) {
        if (r.maxRank() < 1) {
            throw new BadInputException("--max-rank " + r.maxRank() + ": must be at least 1");
        }
        if (r.exactLimit() < 1) {
            throw new BadInputException("--exact-limit " + r.exactLimit() + ": must be at least 1");
        }
        OutputPublisher publisher = OutputPublisher.forPath(r.outDir(), conf);
        publisher.checkDestination(publisher.outputPath(r.outDir()), r.overwrite());
        List<ExtractionPlan.DeltaTask> tasks = new ArrayList<>();
        List<ShardFile> files = new ArrayList<>();
        try (Checkpoint ftFile = Checkpoint.open(r.model(), conf);
                Checkpoint baseFile = Checkpoint.open(r.baseModel(), conf)) {
            files.addAll(ftFile.shardFiles());
            files.addAll(baseFile.shardFiles());
            Map<String, List<String>> read = new LinkedHashMap<>();
            read.put("--model", ftFile.shardFiles().stream().map(ShardFile::path).toList());
            read.put("--base-model", baseFile.shardFiles().stream().map(ShardFile::path).toList());
            OutputPublisher.checkOutside(publisher.outputPath(r.outDir()), read, conf);
            Checkpoint ft = TiedHead.aliased(ftFile, baseFile);
            Checkpoint base = TiedHead.aliased(baseFile, ftFile);
            Selection selection = r.selection();
            Predicate<String> excluded = selection.excluded();
            boolean conv1d = LoraAdapter.storesConv1d(ftFile.config()) || LoraAdapter.storesConv1d(baseFile.config());
            for (String name : base.tensorNames()) {
                if (!ft.contains(name) && !excluded.test(module(name))) {
                    throw new BadInputException(r.model() + ": has no tensor '" + name + "', which the base model "
                            + r.baseModel() + " has");
                }
            }
            for (String name : ft.tensorNames()) {
                if (excluded.test(module(name))) {
                    continue;
                }
                if (!base.contains(name)) {
                    throw new BadInputException(r.baseModel() + ": has no tensor '" + name + "', which the model "
                            + r.model() + " has");
                }
                TensorInfo a = ft.info(name);
                TensorInfo b = base.info(name);
                boolean resized = !Arrays.equals(a.shape(), b.shape());
                if (resized && EmbeddingRows.common(name, List.of(a.shape(), b.shape())) == null) {
                    throw new BadInputException(name + ": shape " + Arrays.toString(a.shape()) + " in " + r.model()
                            + " but " + Arrays.toString(b.shape()) + " in " + r.baseModel());
                }
                for (TensorInfo t : List.of(a, b)) {
                    if (!t.dtype().isCodecSupported()) {
                        throw new BadInputException(name + ": dtype " + t.dtype()
                                + " cannot be compared (only F64, F32, F16, BF16)");
                    }
                }
                tasks.add(resized ? new ExtractionPlan.DeltaTask(name, false, false, false, true, true, a.shape())
                        : task(name, a, selection, conv1d));
            }
            if (tasks.isEmpty()) {
                throw new BadInputException("--include-regex " + selection.includeRegexes() + ", --exclude-regex "
                        + selection.excludeRegexes() + ": they leave no module of " + r.model() + " to compare");
            }
            for (String m : selection.saveModules()) {
                if (tasks.stream().noneMatch(t -> module(t.tensor()).equals(m) || module(t.tensor()).endsWith("." + m))) {
                    // A warning, not an error: mergekit takes the option for a module a model may not store (a tied head).
                    LOG.warn("--save-module {}: {} has no tensor of such a module{}; nothing is saved for it", m, r.model(),
                            selection.includeRegexes().isEmpty() && selection.excludeRegexes().isEmpty() ? ""
                            : " among those --include-regex/--exclude-regex select");
                }
            }
        }
        // Absolute: executors resolve a relative path against their own working directory.
        return new ExtractionPlan(MergeConfig.resolvePath(r.model(), null), MergeConfig.resolvePath(r.baseModel(), null),
                r.maxRank(), r.svd(), r.exactLimit(), r.seed(), r.factors(), tasks, files);
    }

    /** Runs the extraction on {@code executor} and publishes the adapter. */
    public static Outcome run(Request r, ExtractExecutor executor, Configuration conf) {
        long start = System.nanoTime();
        ExtractionPlan plan = plan(r, conf);
        List<DeltaResult> results = executor.run(plan);
        List<DeltaResult> lora = results.stream().filter(DeltaResult::decomposed).toList();
        List<DeltaResult> whole = results.stream().filter(x -> x.differs() && !x.lora()).toList();
        if (lora.isEmpty()) {
            throw new BadInputException(r.model() + " and " + r.baseModel() + ": no matrix differs"
                    + (whole.isEmpty() ? " (the models are equal)" : " (only " + whole.size()
                    + " other tensors do)") + "; there is nothing to extract");
        }
        int rank = lora.stream().mapToInt(DeltaResult::rank).max().orElseThrow();
        if (rank == 0) {
            throw new BadInputException("--sv-epsilon " + r.factors().svEpsilon() + ": no singular value of the "
                    + lora.size() + " differing matrices is above it; there is nothing to extract");
        }
        Map<String, ExtractionPlan.DeltaTask> byTensor = new LinkedHashMap<>();
        plan.tasks().forEach(t -> byTensor.put(t.tensor(), t));
        Set<String> linearModules = lora.stream().filter(d -> !byTensor.get(d.tensor()).embedding())
                .map(d -> module(d.tensor())).collect(Collectors.toSet());
        checkPeftLoads(r, lora, whole, byTensor, linearModules);
        OutputPublisher publisher = OutputPublisher.forPath(r.outDir(), conf);
        Path out = publisher.outputPath(r.outDir());
        publisher.checkDestination(out, r.overwrite());
        Path staging = publisher.stage(r.outDir());
        try {
            FileSystem fs = HadoopFs.get(staging, conf);
            List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
            Map<String, LoraAdapterProvenance.Module> modules = new LinkedHashMap<>();
            TreeSet<String> targets = new TreeSet<>();
            for (DeltaResult d : lora) {
                String module = module(d.tensor());
                targets.add(module.substring(module.lastIndexOf('.') + 1));
                ExtractionPlan.DeltaTask task = byTensor.get(d.tensor());
                int rows = Math.toIntExact(task.shape()[0]);
                int cols = Math.toIntExact(task.shape()[1]);
                String aName = task.embedding() ? ".lora_embedding_A" : ".lora_A.weight";
                String bName = task.embedding() ? ".lora_embedding_B" : ".lora_B.weight";
                if (task.embedding() || task.conv1d()) {
                    // PEFT adds (B A)^T: to an embedding [vocab, dim] (parameter names without ".weight"), and
                    // to a Conv1D weight [in, out]. D = b a, so D^T = a^T b^T: A = b^T [k, rows], B = a^T [cols, k].
                    tensors.add(SafetensorsWriter.TensorData.ofFloats(PEFT_PREFIX + module + aName,
                            DType.F32, new long[] {rank, rows},
                            Arrays.copyOf(Shapes.transpose(d.b(), rows, d.rank()), rank * rows)));
                    tensors.add(SafetensorsWriter.TensorData.ofFloats(PEFT_PREFIX + module + bName,
                            DType.F32, new long[] {cols, rank},
                            padColumns(Shapes.transpose(d.a(), d.rank(), cols), cols, d.rank(), rank)));
                } else {
                    tensors.add(SafetensorsWriter.TensorData.ofFloats(PEFT_PREFIX + module + aName,
                            DType.F32, new long[] {rank, cols}, Arrays.copyOf(d.a(), rank * cols)));
                    tensors.add(SafetensorsWriter.TensorData.ofFloats(PEFT_PREFIX + module + bName,
                            DType.F32, new long[] {rows, rank}, padColumns(d.b(), rows, d.rank(), rank)));
                }
                modules.put(module, new LoraAdapterProvenance.Module(d.tensor(), task.embedding() ? "embedding"
                        : task.conv1d() ? "conv1d" : "linear", rows, cols, d.rank(), d.svd(), d.deltaNorm(),
                        d.relativeError()));
            }
            Map<String, LoraAdapterProvenance.Whole> wholeRecords = new LinkedHashMap<>();
            TreeSet<String> toSave = new TreeSet<>();
            boolean loraBias = false;
            try (Checkpoint ftFile = Checkpoint.open(r.model(), conf);
                    Checkpoint baseFile = Checkpoint.open(r.baseModel(), conf)) {
                Checkpoint ft = TiedHead.aliased(ftFile, baseFile);
                for (DeltaResult d : whole) {
                    TensorInfo t = ft.info(d.tensor());
                    boolean save = saves(r, byTensor.get(d.tensor()));
                    if (save && isLoraBias(d.tensor(), linearModules)) {
                        // PEFT would take a module in modules_to_save whole and drop its LoRA factors.
                        tensors.add(SafetensorsWriter.TensorData.ofFloats(
                                PEFT_PREFIX + module(d.tensor()) + LoraAdapter.B_BIAS_SUFFIX, DType.F32, t.shape(),
                                Shapes.difference(ft.readFloats(d.tensor()), baseFile.readFloats(d.tensor()))));
                        wholeRecords.put(d.tensor(), new LoraAdapterProvenance.Whole(LORA_BIAS,
                                Arrays.stream(t.shape()).boxed().toList(), d.deltaNorm()));
                        loraBias = true;
                        continue;
                    }
                    wholeRecords.put(d.tensor(), new LoraAdapterProvenance.Whole(save ? "saved" : "reported",
                            Arrays.stream(t.shape()).boxed().toList(), d.deltaNorm()));
                    if (save) {
                        toSave.add(module(d.tensor()));
                        // Copied block by block while written: an embedding can be over 2 GB.
                        tensors.add(SafetensorsWriter.TensorData.ofSource(PEFT_PREFIX + d.tensor(), t.dtype(),
                                t.shape(), (offset, dst, off, len) -> ft.readStored(d.tensor(), offset, dst, off, len)));
                    }
                }
                SafetensorsWriter.writeFile(fs, new Path(staging, AdapterFiles.WEIGHTS), tensors, Map.of("format", "pt"));
            }
            AdapterFiles.writeCard(fs, staging, ModelCard.lora(r.baseModel(), r.model(), r.commandLine(),
                    new Path(r.outDir()).getName()));
            AdapterFiles.writeConfig(fs, staging, AdapterFiles.config(r.baseModel(), rank, rank,
                    List.copyOf(targets), List.copyOf(toSave), loraBias,
                    lora.stream().anyMatch(d -> byTensor.get(d.tensor()).conv1d())));
            LoraAdapterProvenance provenance = new LoraAdapterProvenance(LoraAdapterProvenance.EXTRACT,
                    Environment.buildVersion(),
                    List.of(AdapterFiles.input("model", r.model(), conf),
                            AdapterFiles.input("base_model", r.baseModel(), conf)),
                    Provenance.tree(parameters(r)),
                    new LoraAdapterProvenance.Adapter(rank, rank, List.copyOf(targets), List.copyOf(toSave),
                            AdapterFiles.outputHashes(fs, staging, conf)),
                    modules, wholeRecords, totals(lora, whole.size(), results.size() - lora.size() - whole.size()),
                    executor.describe(), (System.nanoTime() - start) / 1_000_000, Environment.current());
            AdapterFiles.writeProvenance(fs, staging, provenance);
            // Checked last: the commit reads FT again (saved tensors, digests), after the decomposition.
            ShardFile.checkUnchanged(plan.inputFiles(), conf);
            publisher.publish(staging, out, r.overwrite());
            return new Outcome(r.outDir(), provenance);
        } catch (RuntimeException e) {
            RuntimeException reported = ShardFile.changedOr(plan.inputFiles(), conf, e);
            publisher.discardAfter(staging, reported);
            throw reported;
        }
    }

    /** Whether a tensor that differs and is not decomposed is saved whole (else reported). */
    private static boolean saves(Request r, ExtractionPlan.DeltaTask task) {
        return r.other() == Other.SAVE || task.save();
    }

    /** Whether a saved tensor is the bias of a decomposed linear module, written as its {@code lora_B} bias. */
    private static boolean isLoraBias(String tensor, Set<String> linearModules) {
        return tensor.endsWith(".bias") && linearModules.contains(module(tensor));
    }

    /**
     * Refuses, before anything is written, an adapter that PEFT would not load as written, or would
     * load with part of FT's change silently lost.
     *
     * <p>A tensor saved whole goes under {@code modules_to_save} as its module (the name without the
     * last part). Where that module is, or holds, a decomposed module, as the parent
     * {@code self_attn} of a raw parameter {@code self_attn.sinks} (gpt-oss) holds {@code q_proj},
     * PEFT takes the module whole and never adapts a module inside it
     * ({@code tuners_utils.check_target_module_exists} returns {@code _ExcludedModule}): the LoRA
     * factors would be ignored, and the loader of {@code BASE+ADAPTER} refuses such an adapter. PEFT
     * has no way to save one parameter of a module, so this is bad input naming the tensors and the
     * decomposed modules inside; saving the module whole, with its linears' full weights, would not be
     * the LoRA asked for.
     *
     * <p>PEFT refuses {@code lora_bias} beside embedding LoRA ({@code lora.Embedding.__init__}:
     * "lora_bias=True is not supported for Embedding", raised by {@code PeftModel.from_pretrained}), so
     * {@code --embed-lora} with a decomposed linear module whose bias differs (and is saved) is bad input
     * too: no module can be saved whole beside its factors either.
     */
    private static void checkPeftLoads(Request r, List<DeltaResult> lora, List<DeltaResult> whole,
            Map<String, ExtractionPlan.DeltaTask> byTensor, Set<String> linearModules) {
        List<String> decomposed = lora.stream().map(d -> module(d.tensor())).toList();
        Map<String, List<String>> lost = new LinkedHashMap<>();
        List<String> loraBiases = new ArrayList<>();
        for (DeltaResult d : whole) {
            if (!saves(r, byTensor.get(d.tensor()))) {
                continue;
            }
            if (isLoraBias(d.tensor(), linearModules)) {
                loraBiases.add(d.tensor());
                continue;
            }
            String m = module(d.tensor());
            List<String> inside = decomposed.stream().filter(x -> x.equals(m) || x.startsWith(m + ".")).toList();
            if (!inside.isEmpty()) {
                lost.put(d.tensor(), inside);
            }
        }
        if (!lost.isEmpty()) {
            Map.Entry<String, List<String>> first = lost.entrySet().iterator().next();
            String m = module(first.getKey());
            List<String> lasts = lost.keySet().stream().map(LoraExtraction::module)
                    .map(x -> x.substring(x.lastIndexOf('.') + 1)).distinct().toList();
            String last = lasts.size() == 1 ? lasts.get(0) : "(" + String.join("|", lasts) + ")";
            boolean forced = lost.keySet().stream().anyMatch(t -> byTensor.get(t).save());
            throw new BadInputException(first.getKey() + " differs and would be saved whole as module " + m
                    + " (modules_to_save), but PEFT takes that module whole and does not adapt the decomposed "
                    + first.getValue() + " inside it, so their changes would be lost"
                    + (lost.size() > 1 ? " (and " + (lost.size() - 1) + " more such tensor"
                    + (lost.size() > 2 ? "s: " : ": ") + abbreviated(lost.keySet().stream().skip(1).toList()) + ")" : "")
                    + "; PEFT cannot save one parameter of a module: exclude " + (lost.size() > 1 ? "them" : "it")
                    + " (-e '\\." + last + "$' leaves " + (lost.size() > 1 ? "them" : "it") + " at the base's values)"
                    + (forced ? " (a --save-module names " + (lost.size() > 1 ? "them" : "it")
                    + ", so --other report would still save " + (lost.size() > 1 ? "them" : "it") + ")"
                    : ", or report " + (lost.size() > 1 ? "them" : "it") + " instead of saving "
                    + (lost.size() > 1 ? "them" : "it") + " (--other report, or --skip-undecomposable)"));
        }
        boolean embedding = lora.stream().anyMatch(d -> byTensor.get(d.tensor()).embedding());
        if (embedding && !loraBiases.isEmpty()) {
            boolean many = loraBiases.size() > 1;
            throw new BadInputException("--embed-lora: the " + (many ? "biases of decomposed modules " : "bias of"
                    + " decomposed module ") + abbreviated(loraBiases.stream().map(LoraExtraction::module).toList())
                    + (many ? " differ" : " differs") + " and would be written as " + (many ? "their" : "its")
                    + " lora_B bias (lora_bias: true), which PEFT refuses beside embedding LoRA (\"lora_bias=True is"
                    + " not supported for Embedding\", raised while loading the adapter); drop --embed-lora (the"
                    + " embeddings are then saved whole), or give --other report (the biases are then left at the"
                    + " base's values and listed in the provenance), or exclude the embeddings (-e embed_tokens)");
        }
    }

    /** The first three names and how many more. */
    private static String abbreviated(List<String> names) {
        return names.size() <= 3 ? String.join(", ", names)
                : String.join(", ", names.subList(0, 3)) + " and " + (names.size() - 3) + " more";
    }

    /**
     * How tensor {@code name} (of a module the selection does not exclude) goes into the adapter: a
     * module named by {@code --save-module} is saved whole; else a 2-D {@code <module>.weight} is a
     * linear LoRA target, except the output head (with {@code --include-lm-head} or {@code --embed-lora}
     * only) and the input embeddings (embedding LoRA with {@code --embed-lora} only). Heads and
     * embeddings are recognised by the module's last name ({@code lm_head}, {@code embed_out}; anything
     * with {@code embed}, {@code wte}, {@code wpe}). In a model of {@code Conv1D} layers
     * ({@code conv1d}, {@link LoraAdapter#storesConv1d}) every other 2-D weight is one, stored {@code [in, out]};
     * the head is an {@code nn.Linear} there too and gets linear factors: PEFT picks each layer's
     * {@code fan_in_fan_out} by its class (overriding the config's {@code true} for an {@code nn.Linear}),
     * and so does the loader of {@code BASE+ADAPTER} ({@link LoraAdapter#load}).
     */
    static ExtractionPlan.DeltaTask task(String name, TensorInfo t, Selection s, boolean conv1d) {
        String module = module(name);
        boolean save = s.saves(module);
        boolean lora = false;
        boolean embedding = false;
        if (!save && t.rank() == 2 && name.endsWith(".weight")) {
            String last = module.substring(module.lastIndexOf('.') + 1);
            if (LoraAdapter.isOutputHead(module)) {
                lora = s.includeLmHead() || s.embedLora();
            } else if (last.contains("embed") || last.equals("wte") || last.equals("wpe")) {
                lora = s.embedLora();
                embedding = s.embedLora();
            } else {
                lora = true;
            }
        }
        return new ExtractionPlan.DeltaTask(name, lora, embedding,
                lora && !embedding && conv1d && !LoraAdapter.isOutputHead(module), save, false, t.shape());
    }

    /** The module a tensor belongs to: its name without the last part ({@code .weight}, {@code .bias}). */
    static String module(String tensor) {
        int dot = tensor.lastIndexOf('.');
        return dot < 0 ? tensor : tensor.substring(0, dot);
    }

    private static float[] padColumns(float[] b, int rows, int k, int rank) {
        if (k == rank) {
            return b;
        }
        float[] out = new float[rows * rank];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(b, r * k, out, r * rank, k);
        }
        return out;
    }

    private static Map<String, Object> parameters(Request r) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("max_rank", r.maxRank());
        p.put("svd", r.svd().json());
        p.put("exact_limit", r.exactLimit());
        p.put("other", r.other().json());
        p.put("include_lm_head", r.selection().includeLmHead());
        p.put("embed_lora", r.selection().embedLora());
        p.put("save_modules", r.selection().saveModules());
        p.put("include_regexes", r.selection().includeRegexes());
        p.put("exclude_regexes", r.selection().excludeRegexes());
        p.put("sv_epsilon", r.factors().svEpsilon());
        p.put("distribute_scale", r.factors().distributeScale());
        p.put("seed", r.seed());
        p.put("factors", (r.factors().distributeScale() ? "A = sqrt(S_k) V_k^T, B = U_k sqrt(S_k)"
                : "A = S_k V_k^T, B = U_k") + ", lora_alpha = r"
                + (r.selection().embedLora() ? "; embeddings: the factors of D^T" : ""));
        return p;
    }

    private static LoraAdapterProvenance.Totals totals(List<DeltaResult> lora, int whole, int equal) {
        double err2 = 0;
        double norm2 = 0;
        double max = 0;
        for (DeltaResult d : lora) {
            double e = d.relativeError() * d.deltaNorm();
            err2 += e * e;
            norm2 += d.deltaNorm() * d.deltaNorm();
            max = Math.max(max, d.relativeError());
        }
        return new LoraAdapterProvenance.Totals(lora.size(), whole, equal, Math.sqrt(err2 / norm2), max);
    }
}
