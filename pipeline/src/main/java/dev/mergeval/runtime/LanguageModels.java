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
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Loads a {@link LanguageModel} from a model source string:
 *
 * <ul>
 *   <li>a Hugging Face model directory on any Hadoop FileSystem ({@code config.json},
 *       {@code model.safetensors} or a sharded index, {@code tokenizer.json}, optional
 *       {@code tokenizer_config.json} and {@code generation_config.json});
 *   <li>{@code BASE+ADAPTER}: a base model directory with a PEFT LoRA adapter applied on load
 *       (mergekit's syntax), config and tokenizer from the base;
 *   <li>{@code merge:CONFIG.yaml} or {@code merge:CONFIG.yaml#seed=N}: the mergekit YAML merge of
 *       {@code mergeval merge} evaluated tensor by tensor at load time, with random seed {@code N}
 *       (default {@link KeyedRandom#DEFAULT_SEED}), equal to the same merge written to disk. Model paths
 *       in the YAML are used as written (Hadoop paths, or {@code base+adapter} for LoRA); path
 *       parameters ({@code unaligned_model}, {@code safety_data}) resolve against the YAML's
 *       directory; config and tokenizer come from the base model (the first model without one).
 *       A method's plan-time analysis is read from beside the YAML when {@link #prepare} kept it
 *       there for the same inputs, else computed before the first tensor is merged.
 * </ul>
 */
public final class LanguageModels {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LanguageModels.class);

    /** Prefix of merge-on-load sources. */
    public static final String MERGE_PREFIX = "merge:";

    private static final Pattern SEED_SUFFIX = Pattern.compile("#seed=(-?\\d+)$");

    private LanguageModels() {
    }

    public static LanguageModel load(String source, Configuration conf, RuntimeOptions options) {
        return source.startsWith(MERGE_PREFIX) ? loadMerge(source, conf, options) : loadDirectory(source, conf, options);
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
    public static void check(String source, Configuration conf) {
        try (Opened o = open(source, conf)) {
            check(o);
        }
    }

    /**
     * {@link #check} of a merge given as a parsed config rather than a {@code merge:} source: its
     * models and extra inputs (the files and models its parameters name), from their headers. A sweep
     * checks its post-hoc points this way before it starts work.
     */
    public static void check(MergeConfig merge, Configuration conf) {
        // No location: nothing is kept beside a config that was never written, and a check runs no analysis.
        try (Opened o = openMerge(new MergeSource(null, merge, KeyedRandom.DEFAULT_SEED), merge.sourceName(), conf)) {
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

    /** A model directory; returns the concrete type for callers that need its internals. */
    public static DjlLanguageModel loadDirectory(String uri, Configuration conf, RuntimeOptions options) {
        try (Opened o = openDirectory(uri, conf)) {
            return assemble(o, options);
        }
    }

    /** A {@code merge:CONFIG.yaml[#seed=N]} source. */
    public static DjlLanguageModel loadMerge(String source, Configuration conf, RuntimeOptions options) {
        try (Opened o = openMerge(source, conf)) {
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

    private static Opened open(String source, Configuration conf) {
        return source.startsWith(MERGE_PREFIX) ? openMerge(source, conf) : openDirectory(source, conf);
    }

    private static Opened openDirectory(String uri, Configuration conf) {
        if (uri.contains("+")) {
            Checkpoint weights = Checkpoint.open(uri, conf);
            if (weights instanceof LoraCheckpoint) {
                // BASE+ADAPTER: weights W + scale * B @ A, config and tokenizer from the base model.
                TensorSource tensors = new CheckpointTensorSource(weights);
                try {
                    ModelDirectory dir = new ModelDirectory(weights.root(), conf);
                    return new Opened(uri, dir, readConfig(dir), tensors);
                } catch (RuntimeException e) {
                    tensors.close();
                    throw e;
                }
            }
            weights.close();
        }
        ModelDirectory dir = new ModelDirectory(uri, conf);
        LlamaConfig config = readConfig(dir);
        return new Opened(dir.uri(), dir, config, new CheckpointTensorSource(Checkpoint.open(dir.uri(), conf)));
    }

    private static Opened openMerge(String source, Configuration conf) {
        return openMerge(MergeSource.parse(source, conf), source, conf);
    }

    private static Opened openMerge(MergeSource merge, String source, Configuration conf) {
        MergeInputs inputs = MergeInputs.open(merge.config(), conf);
        try {
            ModelDirectory dir = new ModelDirectory(inputs.reference().root(), conf);
            LlamaConfig config = readConfig(dir);
            int layers = config.numHiddenLayers();
            return new Opened(source, dir, config, new MergedTensorSource(inputs, layers, merge.seed(),
                    () -> analysis(inputs, merge, layers, conf, false)));
        } catch (RuntimeException e) {
            inputs.close();
            throw e;
        }
    }

    /**
     * Readies a source for loading on many executors: for a {@code merge:} source whose method has a
     * plan-time analysis (Safe LoRA's cosines, SPF's safety gradient), runs it once here and keeps it
     * beside the config ({@code CONFIG.analysis}), where every later load of the same merge of the
     * same inputs reads it instead of repeating it. Nothing to do for other sources. Where the
     * config's directory is not writable, each load computes the analysis itself.
     */
    public static void prepare(String source, Configuration conf) {
        if (!source.startsWith(MERGE_PREFIX)) {
            return;
        }
        MergeSource merge = MergeSource.parse(source, conf);
        try (MergeInputs inputs = MergeInputs.open(merge.config(), conf)) {
            int layers = readConfig(new ModelDirectory(inputs.reference().root(), conf)).numHiddenLayers();
            analysis(inputs, merge, layers, conf, true);
        }
    }

    /** The analysis kept beside the config for these very inputs, else a fresh one (kept when {@code keep}). */
    private static PlanAnalysis analysis(MergeInputs inputs, MergeSource merge, int layers, Configuration conf,
            boolean keep) {
        String key = MergeAnalysisFile.key(inputs, merge.seed(), conf);
        org.apache.hadoop.fs.Path file = MergeAnalysisFile.of(merge.location());
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
                        merge.location(), e.getMessage());
            }
        }
        return fresh;
    }

    /** A {@code merge:CONFIG.yaml[#seed=N]} source: the config, read from its location, and the seed. */
    private record MergeSource(String location, MergeConfig config, long seed) {
        static MergeSource parse(String source, Configuration conf) {
            String spec = source.substring(MERGE_PREFIX.length());
            long seed = KeyedRandom.DEFAULT_SEED;
            Matcher m = SEED_SUFFIX.matcher(spec);
            if (m.find()) {
                seed = Long.parseLong(m.group(1));
                spec = spec.substring(0, m.start());
            }
            return new MergeSource(spec, MergeConfig.parse(readText(spec, conf), spec, spec), seed);
        }
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

    private static String readText(String uri, Configuration conf) {
        Path p = new Path(uri);
        try (InputStream in = p.getFileSystem(conf).open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException("merge config not found: " + uri, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + uri, e);
        }
    }

    private static JsonNode json(ModelDirectory dir, String name) {
        try {
            return Mappers.JSON.readTree(dir.readBytes(name));
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(name) + ": not valid JSON", e);
        }
    }
}
