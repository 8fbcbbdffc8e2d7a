package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken model directories fail at load with one-line errors naming the file, tensor or key. */
class BadModelInputTest {

    @TempDir
    Path tmp;

    private static BadInputException loadFails(Path dir) {
        return assertThrows(BadInputException.class,
                () -> ModelSources.load(new ModelSource.Directory(dir.toString()), new Configuration(),
                        RuntimeOptions.cpu()).close());
    }

    @Test
    void tinyModelLoadsAndGenerates() {
        Path dir = TinyModels.write(tmp.resolve("ok"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        try (LanguageModel model = ModelSources.load(new ModelSource.Directory(dir.toString()), new Configuration(),
                RuntimeOptions.cpu())) {
            Completion c = model.generate(List.of("w5 w6 w7"), GenerationParams.greedy(5)).get(0);
            assertEquals(List.of(1, 5, 6, 7), c.promptIds());
            assertTrue(c.outputIds().size() <= 5 && !c.outputIds().isEmpty());
        }
    }

    @Test
    void configNotMatchingTensors() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        ObjectNode wrong = TinyModels.llamaConfig();
        wrong.put("intermediate_size", 40);
        Files.writeString(dir.resolve("config.json"), wrong.toString());
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("'model.layers.0.mlp.gate_proj.weight' has shape [48, 32]")
                && e.getMessage().contains("[40, 32]"), e.getMessage());
    }

    @Test
    void checkpointWithMoreLayersThanConfig() throws Exception {
        ObjectNode three = TinyModels.llamaConfig();
        three.put("num_hidden_layers", 3);
        Path dir = TinyModels.write(tmp.resolve("m"), three, DType.F32, 1, Long.MAX_VALUE);
        Files.writeString(dir.resolve("config.json"), TinyModels.llamaConfig().toString());
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("model.layers.2.") && e.getMessage().contains("num_hidden_layers 2"),
                e.getMessage());
    }

    @Test
    void missingTensor() {
        String dropped = "model.layers.1.mlp.up_proj.weight";
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE,
                name -> !name.equals(dropped));
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("missing tensor '" + dropped + "'"), e.getMessage());
    }

    @Test
    void untiedConfigWithoutLmHead() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        ObjectNode untied = TinyModels.llamaConfig();
        untied.put("tie_word_embeddings", false);
        Files.writeString(dir.resolve("config.json"), untied.toString());
        assertTrue(loadFails(dir).getMessage().contains("missing tensor 'lm_head.weight'"));
    }

    @Test
    void missingTokenizer() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Files.delete(dir.resolve("tokenizer.json"));
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().startsWith("missing tokenizer: ") && e.getMessage().endsWith("tokenizer.json"),
                e.getMessage());
    }

    @Test
    void missingConfig() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Files.delete(dir.resolve("config.json"));
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        ObjectNode gpt = TinyModels.llamaConfig();
        gpt.putArray("architectures").add("GPT2LMHeadModel");
        Path dir = tmp.resolve("gpt");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), gpt.toString());
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("unsupported architecture 'GPT2LMHeadModel'"), e.getMessage());
    }

    @Test
    void unsupportedRopeScalingIsNamed() throws Exception {
        ObjectNode yarn = TinyModels.llamaConfig();
        yarn.putObject("rope_scaling").put("type", "yarn").put("factor", 4.0);
        Path dir = tmp.resolve("yarn");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), yarn.toString());
        assertTrue(loadFails(dir).getMessage().contains("unsupported rope_scaling type 'yarn'"));
    }

    @Test
    void missingDirectory() {
        assertTrue(loadFails(tmp.resolve("nope")).getMessage().contains("nope"));
    }

    @Test
    void aNonFiniteWeightIsNamedAtLoad() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("nan"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path shard = dir.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        long headerLength = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        int at = (int) (8 + headerLength + 4 * 3); // the fourth value of the first tensor's data
        java.nio.ByteBuffer.wrap(bytes, at, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        Files.write(shard, bytes);
        BadInputException e = loadFails(dir);
        assertTrue(e.getMessage().contains("holds NaN at element 3") && e.getMessage().contains("nan: tensor '"),
                e.getMessage());
    }

    /** A tokenizer with more tokens than the embedding has rows fails on the first such token, by name. */
    @Test
    void aTokenBeyondTheVocabularyIsRefused() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("vocab"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        TinyModels.writeTokenizer(dir, 100);
        try (LanguageModel model = ModelSources.load(new ModelSource.Directory(dir.toString()), new Configuration(),
                RuntimeOptions.cpu())) {
            assertEquals(1, model.generate(List.of("w5 w6"), GenerationParams.greedy(1)).size());
            BadInputException e = assertThrows(BadInputException.class,
                    () -> model.generate(List.of("w5 w80"), GenerationParams.greedy(1)));
            assertTrue(e.getMessage().contains("token id 80 is outside the model's vocabulary of 64"), e.getMessage());
            assertThrows(BadInputException.class,
                    () -> model.logLikelihood(List.of(new LogLikelihoodRequest("w5", " w81"))));
        }
    }

    @Test
    void anEmptyPromptWithoutBosIsRefusedByIndex() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("nobos"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path config = dir.resolve("tokenizer_config.json");
        Files.writeString(config, Files.readString(config).replace("\"add_bos_token\" : true", "\"add_bos_token\" : false"));
        try (LanguageModel model = ModelSources.load(new ModelSource.Directory(dir.toString()), new Configuration(),
                RuntimeOptions.cpu())) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> model.generate(List.of("w5", ""), GenerationParams.greedy(1)));
            assertTrue(e.getMessage().startsWith("prompt 1 of ") && e.getMessage().contains("encodes to no tokens"),
                    e.getMessage());
        }
    }
}
