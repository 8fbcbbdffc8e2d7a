package dev.mergeval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.LlamaWeights;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
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
 *   <li>{@code merge:CONFIG.yaml} or {@code merge:CONFIG.yaml#seed=N}: the mergekit YAML merge of
 *       {@code mergeval merge} evaluated tensor by tensor at load time, with random seed {@code N}
 *       (default {@link #DEFAULT_MERGE_SEED}), equal to the same merge written to disk. Model paths
 *       in the YAML are used as written (Hadoop paths, or {@code base+adapter} for LoRA); config
 *       and tokenizer come from the base model (the first model without one).
 * </ul>
 */
public final class LanguageModels {

    /** Prefix of merge-on-load sources. */
    public static final String MERGE_PREFIX = "merge:";

    /** Seed of a merge-on-load source that names none (DARE/DELLA randomness). */
    public static final long DEFAULT_MERGE_SEED = 0L;

    private static final Pattern SEED_SUFFIX = Pattern.compile("#seed=(-?\\d+)$");

    private LanguageModels() {
    }

    public static LanguageModel load(String source, Configuration conf, RuntimeOptions options) {
        return source.startsWith(MERGE_PREFIX) ? loadMerge(source, conf, options) : loadDirectory(source, conf, options);
    }

    /** A model directory; returns the concrete type for callers that need its internals. */
    public static DjlLanguageModel loadDirectory(String uri, Configuration conf, RuntimeOptions options) {
        ModelDirectory dir = new ModelDirectory(uri, conf);
        LlamaConfig config = readConfig(dir);
        try (TensorSource tensors = new CheckpointTensorSource(Checkpoint.open(dir.uri(), conf))) {
            return assemble(dir.uri(), dir, config, tensors, options);
        }
    }

    /** A {@code merge:CONFIG.yaml[#seed=N]} source. */
    public static DjlLanguageModel loadMerge(String source, Configuration conf, RuntimeOptions options) {
        String spec = source.substring(MERGE_PREFIX.length());
        long seed = DEFAULT_MERGE_SEED;
        Matcher m = SEED_SUFFIX.matcher(spec);
        if (m.find()) {
            seed = Long.parseLong(m.group(1));
            spec = spec.substring(0, m.start());
        }
        MergeConfig merge = MergeConfig.parse(readText(spec, conf), spec);
        Map<String, Checkpoint> inputs = new LinkedHashMap<>();
        try {
            for (String model : merge.inputModels()) {
                inputs.put(model, Checkpoint.open(model, conf));
            }
        } catch (RuntimeException e) {
            inputs.values().forEach(Checkpoint::close);
            throw e;
        }
        Checkpoint base = inputs.get(merge.baseModel().orElse(merge.inputModels().get(0)));
        ModelDirectory dir = new ModelDirectory(base.root(), conf);
        LlamaConfig config;
        try {
            config = readConfig(dir);
        } catch (RuntimeException e) {
            inputs.values().forEach(Checkpoint::close);
            throw e;
        }
        try (TensorSource tensors = new MergedTensorSource(merge, inputs, config.numHiddenLayers(), seed)) {
            return assemble(source, dir, config, tensors, options);
        }
    }

    private static DjlLanguageModel assemble(
            String id, ModelDirectory dir, LlamaConfig config, TensorSource tensors, RuntimeOptions options) {
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
            return new ObjectMapper().readTree(dir.readBytes(name));
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(name) + ": not valid JSON", e);
        }
    }
}
