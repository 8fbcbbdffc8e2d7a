package dev.mergeval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.LoraCheckpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Mappers;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.LlamaWeights;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The model factory: loads a {@link LanguageModel} from a {@link ModelSource}:
 *
 * <ul>
 *   <li>{@link ModelSource.Directory}: a Hugging Face model directory on any Hadoop FileSystem
 *       ({@code config.json}, {@code model.safetensors} or a sharded index, {@code tokenizer.json},
 *       optional {@code tokenizer_config.json} and {@code generation_config.json});
 *   <li>{@link ModelSource.WithAdapter}: a base model directory with a PEFT LoRA adapter applied on
 *       load, config and tokenizer from the base;
 *   <li>{@link ModelSource.MergeOnLoad}: the mergekit merge of {@code mergeval merge} evaluated
 *       tensor by tensor at load time with its seed, equal to the same merge written to disk. Model
 *       paths in the config are used as written (Hadoop paths, or {@code base+adapter} for LoRA);
 *       path parameters ({@code unaligned_model}, {@code safety_data}) resolve against the config's
 *       directory; config and tokenizer come from the base model (the first model without one).
 *       A method's plan-time analysis is read from beside the config when {@link #prepare} kept it
 *       there for the same inputs, else computed before the first tensor is merged.
 * </ul>
 * A loaded model's {@link LanguageModel#id()} is the source's text ({@link ModelSource#text()}),
 * a directory's as Hadoop normalizes the path.
 */
public final class LanguageModels {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LanguageModels.class);


    private LanguageModels() {
    }

    /** Loads {@code source} with {@code options} (device, threads, batch size). */
    public static LanguageModel load(ModelSource source, Configuration conf, RuntimeOptions options) {
        try (Opened o = open(source, conf)) {
            return assemble(o, options);
        }
    }

    /**
     * Checks a source as {@link #load} would, without reading any weights: the directory (or merge
     * config and its inputs) exists, {@code config.json} parses, every safetensors header loads, the
     * tensors are the ones the config implies, and {@code tokenizer.json} is present. Commands run this
     * on the driver before they start work, so that a bad source fails there, in one line, and not in
     * every Spark task.
     *
     * @throws BadInputException naming the file and what is wrong
     */
    public static void check(ModelSource source, Configuration conf) {
        try (Opened o = open(source, conf)) {
            check(o);
        }
    }

    /**
     * {@link #check} of a merge given as a parsed config rather than a merge-on-load source: its
     * models and extra inputs (the files and models its parameters name), from their headers. A sweep
     * checks its post-hoc points this way before it starts work.
     */
    public static void check(MergeConfig merge, Configuration conf) {
        // No location: nothing is kept beside a config that was never written, and a check runs no analysis.
        try (Opened o = openMerge(merge, null, KeyedRandom.DEFAULT_SEED, merge.sourceName(), conf)) {
            check(o);
        }
    }

    private static void check(Opened o) {
        LlamaWeights.validate(o.config(), o.tensors());
        if (o.tensors() instanceof MergedTensorSource merge) {
            merge.checkInputs();
        }
        if (!o.dir().exists("tokenizer.json")) {
            throw new BadInputException("missing tokenizer: " + o.dir().resolve("tokenizer.json"));
        }
    }

    /**
     * The weights at a checkpoint location (a model directory, or {@code BASE+ADAPTER} as
     * {@link dev.mergeval.checkpoint.Checkpoint#open} splits it), as the concrete type, for callers
     * that need its internals (fine-tuning, gradients).
     */
    public static DjlLanguageModel loadDirectory(String uri, Configuration conf, RuntimeOptions options) {
        try (Opened o = openCheckpoint(uri, conf)) {
            return assemble(o, options);
        }
    }

    /** A source with its headers and config read, and its weights not yet. */
    private record Opened(String id, ModelDirectory dir, LlamaConfig config, TensorSource tensors)
            implements AutoCloseable {

        @Override
        public void close() {
            tensors.close();
        }
    }

    private static Opened open(ModelSource source, Configuration conf) {
        return source.match(new ModelSource.Cases<>() {
            @Override
            public Opened directory(ModelSource.Directory d) {
                return openDirectory(d.uri(), conf);
            }

            @Override
            public Opened withAdapter(ModelSource.WithAdapter a) {
                Checkpoint base = Checkpoint.open(a.base(), conf);
                try {
                    return openAdapted(a.text(), LoraCheckpoint.open(a.text(), base, a.adapter(), conf), conf);
                } catch (RuntimeException e) {
                    base.close();
                    throw e;
                }
            }

            @Override
            public Opened mergeOnLoad(ModelSource.MergeOnLoad m) {
                return openMerge(m.config(), m.location(), m.seed(), m.text(), conf);
            }
        });
    }

    private static Opened openCheckpoint(String uri, Configuration conf) {
        return uri.contains("+") ? openAdapted(uri, conf) : openDirectory(uri, conf);
    }

    private static Opened openDirectory(String uri, Configuration conf) {
        ModelDirectory dir = new ModelDirectory(uri, conf);
        LlamaConfig config = readConfig(dir);
        return new Opened(dir.uri(), dir, config, new CheckpointTensorSource(Checkpoint.open(dir.uri(), conf)));
    }

    /** A location with a {@code '+'}: BASE+ADAPTER where {@link Checkpoint#open} splits it, else a directory. */
    private static Opened openAdapted(String uri, Configuration conf) {
        Checkpoint weights = Checkpoint.open(uri, conf);
        if (!(weights instanceof LoraCheckpoint lora)) {
            weights.close();
            return openDirectory(uri, conf);
        }
        return openAdapted(uri, lora, conf);
    }

    /** BASE+ADAPTER: weights W + scale * B @ A, config and tokenizer from the base model. */
    private static Opened openAdapted(String id, LoraCheckpoint weights, Configuration conf) {
        TensorSource tensors = new CheckpointTensorSource(weights);
        try {
            ModelDirectory dir = new ModelDirectory(weights.root(), conf);
            return new Opened(id, dir, readConfig(dir), tensors);
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    /**
     * @param location where the config lives, for its kept analysis; null when it was never written
     * @param id       the model's id (the source's text)
     */
    private static Opened openMerge(MergeConfig merge, String location, long seed, String id, Configuration conf) {
        MergeInputs inputs = MergeInputs.open(merge, conf);
        try {
            ModelDirectory dir = new ModelDirectory(inputs.reference().root(), conf);
            LlamaConfig config = readConfig(dir);
            int layers = config.numHiddenLayers();
            return new Opened(id, dir, config, new MergedTensorSource(inputs, layers, seed,
                    () -> analysis(inputs, location, seed, layers, conf, false)));
        } catch (RuntimeException e) {
            inputs.close();
            throw e;
        }
    }

    /**
     * Readies a source for loading on many executors: for a merge-on-load source whose method has a
     * plan-time analysis (Safe LoRA's cosines, SPF's safety gradient), runs it once here and keeps it
     * beside the config ({@code CONFIG.analysis}), where every later load of the same merge of the
     * same inputs reads it instead of repeating it. Nothing to do for other sources. Where the
     * config's directory is not writable, each load computes the analysis itself.
     */
    public static void prepare(ModelSource source, Configuration conf) {
        if (!(source instanceof ModelSource.MergeOnLoad merge)) {
            return;
        }
        try (MergeInputs inputs = MergeInputs.open(merge.config(), conf)) {
            int layers = readConfig(new ModelDirectory(inputs.reference().root(), conf)).numHiddenLayers();
            analysis(inputs, merge.location(), merge.seed(), layers, conf, true);
        }
    }

    /** The analysis kept beside the config for these very inputs, else a fresh one (kept when {@code keep}). */
    private static PlanAnalysis analysis(MergeInputs inputs, String location, long seed, int layers,
            Configuration conf, boolean keep) {
        String key = MergeAnalysisFile.key(inputs, seed, conf);
        org.apache.hadoop.fs.Path file = MergeAnalysisFile.of(location);
        PlanAnalysis kept = MergeAnalysisFile.read(file, key, conf);
        if (kept != null) {
            return kept;
        }
        PlanAnalysis fresh = inputs.analyze(layers, inputs.mergedTensors(), conf,
                Runtime.getRuntime().availableProcessors());
        if (keep && !fresh.isEmpty()) {
            try {
                MergeAnalysisFile.write(file, key, fresh, conf);
            } catch (UncheckedIOException e) {
                LOG.warn("cannot keep the analysis of {} beside it ({}); each load will repeat it",
                        location, e.getMessage());
            }
        }
        return fresh;
    }

    private static DjlLanguageModel assemble(Opened opened, RuntimeOptions options) {
        String id = opened.id();
        ModelDirectory dir = opened.dir();
        LlamaConfig config = opened.config();
        TensorSource tensors = opened.tensors();
        LlamaWeights.validate(config, tensors);
        ModelTokenizer tokenizer = ModelTokenizer.load(
                dir, config.bosTokenId(), config.eosTokenIds().isEmpty() ? -1 : config.eosTokenIds().get(0));
        try {
            ChatTemplate template = null;
            if (dir.exists("tokenizer_config.json")) {
                template = ChatTemplate.fromTokenizerConfig(json(dir, "tokenizer_config.json"));
            }
            GenerationDefaults defaults = GenerationDefaults.load(dir, config, tokenizer.eosId());
            NDManager manager = NDManager.newBaseManager(options.djlDevice(), "PyTorch");
            try {
                Map<String, NDArray> params = LlamaWeights.load(
                        config, tensors, manager, options.djlDevice(), options.computeType());
                return new DjlLanguageModel(id, options, manager, params, new LlamaForward(config),
                        tokenizer, template, defaults);
            } catch (RuntimeException e) {
                manager.close();
                throw e;
            }
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    private static LlamaConfig readConfig(ModelDirectory dir) {
        return LlamaConfig.parse(dir.readText("config.json"), dir.resolve("config.json"));
    }

    private static JsonNode json(ModelDirectory dir, String name) {
        try {
            return Mappers.JSON.readTree(dir.readBytes(name));
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(name) + ": not valid JSON", e);
        }
    }
}
