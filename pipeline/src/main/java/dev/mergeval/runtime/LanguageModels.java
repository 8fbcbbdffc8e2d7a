package dev.mergeval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.LoraCheckpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.LlamaWeights;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.io.IOException;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Assembles a {@link LanguageModel} from an {@link Opened} model: its directory (config, tokenizer,
 * chat template, generation defaults) and a {@link TensorSource} for its weights. Opens the two
 * kinds of source that are checkpoints on disk:
 *
 * <ul>
 *   <li>a Hugging Face model directory on any Hadoop FileSystem ({@code config.json},
 *       {@code model.safetensors} or a sharded index, {@code tokenizer.json}, optional
 *       {@code tokenizer_config.json} and {@code generation_config.json});
 *   <li>{@code BASE+ADAPTER}: a base model directory with a PEFT LoRA adapter applied on load,
 *       config and tokenizer from the base.
 * </ul>
 * A merge evaluated at load is a third tensor source, opened in {@code merge.onload}; the model
 * factory over every kind of source is {@code source.ModelSources}. The runtime knows neither, so
 * that merge methods may load models (gradients) without a cycle.
 */
public final class LanguageModels {

    private LanguageModels() {
    }

    /** A model with its headers and config read, and its weights not yet; closing it closes the tensors. */
    public record Opened(String id, ModelDirectory dir, LlamaConfig config, TensorSource tensors)
            implements AutoCloseable {

        @Override
        public void close() {
            tensors.close();
        }
    }

    /**
     * The weights at a checkpoint location (a model directory, or {@code BASE+ADAPTER} as
     * {@link Checkpoint#open} splits it), as the concrete type, for callers that need its internals
     * (fine-tuning, gradients).
     */
    public static DjlLanguageModel loadDirectory(String uri, Configuration conf, RuntimeOptions options) {
        try (Opened o = openCheckpoint(uri, conf)) {
            return assemble(o, options);
        }
    }

    /** {@link #check(Opened)} of the checkpoint {@link #loadDirectory} would load. */
    public static void checkDirectory(String uri, Configuration conf) {
        try (Opened o = openCheckpoint(uri, conf)) {
            check(o);
        }
    }

    /**
     * Checks an opened model as loading it would, without reading any weights: the tensors are the
     * ones the config implies, the source's own inputs are readable ({@link TensorSource#check}),
     * and {@code tokenizer.json} is present.
     *
     * @throws BadInputException naming the file and what is wrong
     */
    public static void check(Opened o) {
        LlamaWeights.validate(o.config(), o.tensors());
        o.tensors().check();
        if (!o.dir().exists("tokenizer.json")) {
            throw new BadInputException("missing tokenizer: " + o.dir().resolve("tokenizer.json"));
        }
    }

    /** A location with a {@code '+'} is BASE+ADAPTER where {@link Checkpoint#open} splits it. */
    public static Opened openCheckpoint(String uri, Configuration conf) {
        return uri.contains("+") ? openAdapted(uri, conf) : openDirectory(uri, conf);
    }

    public static Opened openDirectory(String uri, Configuration conf) {
        ModelDirectory dir = new ModelDirectory(uri, conf);
        LlamaConfig config = readConfig(dir);
        return new Opened(dir.uri(), dir, config, new CheckpointTensorSource(Checkpoint.open(dir.uri(), conf)));
    }

    private static Opened openAdapted(String uri, Configuration conf) {
        Checkpoint weights = Checkpoint.open(uri, conf);
        if (!(weights instanceof LoraCheckpoint lora)) {
            weights.close();
            return openDirectory(uri, conf);
        }
        return openAdapted(uri, lora, conf);
    }

    /** BASE+ADAPTER: weights W + scale * B @ A, config and tokenizer from the base model. */
    public static Opened openAdapted(String id, LoraCheckpoint weights, Configuration conf) {
        TensorSource tensors = new CheckpointTensorSource(weights);
        try {
            ModelDirectory dir = new ModelDirectory(weights.root(), conf);
            return new Opened(id, dir, readConfig(dir), tensors);
        } catch (RuntimeException e) {
            tensors.close();
            throw e;
        }
    }

    /** Reads the weights of {@code opened} onto the device of {@code options}, with its tokenizer and template. */
    public static DjlLanguageModel assemble(Opened opened, RuntimeOptions options) {
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
                template = ChatTemplate.fromTokenizerConfig(
                        json(dir, "tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
            }
            GenerationDefaults defaults = GenerationDefaults.load(dir, config, tokenizer.eosId());
            NDManager manager = manager(options);
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

    /** A manager on the options' device; a GPU this machine lacks is bad input, named as the user wrote it. */
    public static NDManager manager(RuntimeOptions options) {
        NDManager manager = NDManager.newBaseManager(options.djlDevice(), "PyTorch");
        try {
            // PyTorch looks at the device only when it first places a tensor there.
            manager.zeros(new ai.djl.ndarray.types.Shape(1)).close();
            return manager;
        } catch (ai.djl.engine.EngineException | IllegalArgumentException e) {
            manager.close();
            if (options.device().equals("cpu")) {
                throw e;
            }
            String why = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            throw new BadInputException("device " + options.device() + ": PyTorch cannot use it on this machine ("
                    + why + ")", e);
        }
    }

    public static LlamaConfig readConfig(ModelDirectory dir) {
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
