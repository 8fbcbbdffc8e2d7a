package dev.mergeval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.LlamaWeights;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.io.IOException;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Loads a {@link LanguageModel} from a model source: a Hugging Face model directory on any Hadoop
 * FileSystem ({@code config.json}, {@code model.safetensors} or a sharded index,
 * {@code tokenizer.json}, optional {@code tokenizer_config.json} and {@code generation_config.json}).
 */
public final class LanguageModels {

    private LanguageModels() {
    }

    public static LanguageModel load(String source, Configuration conf, RuntimeOptions options) {
        return loadDirectory(source, conf, options);
    }

    /** A model directory; returns the concrete type for callers that need its internals. */
    public static DjlLanguageModel loadDirectory(String uri, Configuration conf, RuntimeOptions options) {
        ModelDirectory dir = new ModelDirectory(uri, conf);
        LlamaConfig config = LlamaConfig.parse(dir.readText("config.json"), dir.resolve("config.json"));
        try (TensorSource tensors = new CheckpointTensorSource(Checkpoint.open(dir.uri(), conf))) {
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
                    return new DjlLanguageModel(dir.uri(), options, manager, params, new LlamaForward(config),
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
    }

    private static JsonNode json(ModelDirectory dir, String name) {
        try {
            return new ObjectMapper().readTree(dir.readBytes(name));
        } catch (IOException e) {
            throw new BadInputException(dir.resolve(name) + ": not valid JSON", e);
        }
    }
}
