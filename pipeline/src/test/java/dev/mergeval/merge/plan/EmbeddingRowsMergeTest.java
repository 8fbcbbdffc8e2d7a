package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A fine-tune that added tokens (more embedding and output-head rows than its base) merges with
 * its base as mergekit's {@code rectify_embed_sizes} merges it: over the rows all inputs have. The
 * fine-tune's fixture is the same stream of values as a fine-tune without the added tokens, whose
 * first rows it shares, so each merge must give exactly the bytes of the merge with those rows cut
 * off.
 */
class EmbeddingRowsMergeTest {

    private static final Configuration CONF = new Configuration();
    private static final int VOCAB = 64;
    private static final int ADDED = 6;

    @TempDir
    Path tmp;

    private Path base;
    private Path tuned;
    private Path tunedWithTokens;

    @BeforeEach
    void writeModels() {
        base = TinyModels.write(tmp.resolve("base"), untied(), DType.BF16, 1, Long.MAX_VALUE);
        tuned = TinyModels.write(tmp.resolve("tuned"), untied(), DType.BF16, 2, 30_000);
        tunedWithTokens = TinyModels.write(tmp.resolve("tuned-tokens"), untied().put("vocab_size", VOCAB + ADDED),
                DType.BF16, 2, 30_000);
    }

    /** The tiny Llama with an output head of its own. */
    private static ObjectNode untied() {
        return TinyModels.llamaConfig().put("tie_word_embeddings", false);
    }

    /** A merge of {@code model} with {@code base} by {@code method} ({@code model_stock}: with a copy of it too). */
    private static String config(String method, Path base, Path model) {
        String weighted = "models:\n  - model: %2$s\n    parameters: {weight: 0.6}\n"
                + "  - model: %1$s\n    parameters: {weight: 0.4}\n";
        String withBase = "base_model: %1$s\nmodels:\n  - model: %2$s\n";
        String body = switch (method) {
            case "linear", "nuslerp", "multislerp" -> weighted;
            case "karcher" -> "models:\n  - model: %2$s\n  - model: %1$s\n";
            case "ties", "della" -> withBase + "    parameters: {weight: 0.8, density: 0.5}\n";
            case "task_arithmetic" -> withBase + "    parameters: {weight: 0.8}\n";
            case "sce", "ram" -> withBase;
            case "model_stock" -> withBase + "  - model: %2$s-copy\n";
            default -> withBase + "parameters: {t: 0.3}\n";
        };
        return "merge_method: " + method + "\n" + body.formatted(base, model);
    }

    private Path merge(String yaml, String name) {
        Path out = tmp.resolve(name);
        MergeJob.run(new MergeJob.Request("test.yaml", yaml, out.toString(), 3, false, PlanOptions.defaults()),
                new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
        return out;
    }

    private static JsonNode json(Path file) throws IOException {
        return Mappers.JSON.readTree(file.toFile());
    }

    private static void copyModel(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    /** mergekit's methods that take the common rows, those that cut to the base's, and those that fail there. */
    @ParameterizedTest
    @ValueSource(strings = {"linear", "slerp", "nuslerp", "karcher", "model_stock", "ties", "della", "task_arithmetic",
        "sce", "ram", "nearswap", "multislerp"})
    void aFineTuneWithAddedTokensMergesOverTheCommonRows(String method) throws IOException {
        copyModel(tuned, Path.of(tuned + "-copy"));
        copyModel(tunedWithTokens, Path.of(tunedWithTokens + "-copy"));
        Path expected = merge(config(method, base, tuned), "expected");
        Path actual = merge(config(method, base, tunedWithTokens), "actual");
        assertArrayEquals(Files.readAllBytes(expected.resolve("model.safetensors")),
                Files.readAllBytes(actual.resolve("model.safetensors")), method);
        try (Checkpoint out = Checkpoint.open(actual.toString(), CONF)) {
            assertArrayEquals(new long[] {VOCAB, 32}, out.info("model.embed_tokens.weight").shape());
            assertArrayEquals(new long[] {VOCAB, 32}, out.info("lm_head.weight").shape());
        }
        assertEquals(VOCAB, json(actual.resolve("config.json")).get("vocab_size").asInt());
    }

    /**
     * The config copied from a model with the added tokens (the first of a merge without a base)
     * gets the rows the output has as its {@code vocab_size}; its tokenizer is copied as it is.
     */
    @Test
    void theOutputsVocabSizeIsItsEmbeddingRows() throws IOException {
        String yaml = "merge_method: linear\nmodels:\n  - model: " + tunedWithTokens + "\n    parameters: {weight: 1}\n"
                + "  - model: " + base + "\n    parameters: {weight: 1}\n";
        Path out = merge(yaml, "out");
        JsonNode config = json(out.resolve("config.json"));
        assertEquals(VOCAB, config.get("vocab_size").asInt());
        assertEquals(json(tunedWithTokens.resolve("config.json")).get("hidden_size"), config.get("hidden_size"));
        assertArrayEquals(Files.readAllBytes(tunedWithTokens.resolve("tokenizer.json")),
                Files.readAllBytes(out.resolve("tokenizer.json")));
    }

    /** {@code tokenizer_source: base} with a model that numbers the base's tokens alike and adds its own. */
    @Test
    void theBaseTokenizerWithAModelThatAddedTokens() throws IOException {
        String yaml = "merge_method: slerp\nbase_model: " + base + "\nslices:\n  - sources: [{model: " + base
                + ", layer_range: [0, 2]}, {model: " + tunedWithTokens + ", layer_range: [0, 2]}]\n"
                + "parameters: {t: 0.5}\ntokenizer_source: base\n";
        Path actual = merge(yaml, "actual");
        Path expected = merge(yaml.replace(tunedWithTokens.toString(), tuned.toString()), "expected");
        assertArrayEquals(Files.readAllBytes(expected.resolve("model.safetensors")),
                Files.readAllBytes(actual.resolve("model.safetensors")));
        assertArrayEquals(Files.readAllBytes(base.resolve("tokenizer.json")),
                Files.readAllBytes(actual.resolve("tokenizer.json")));
        assertEquals(VOCAB, json(actual.resolve("config.json")).get("vocab_size").asInt());
    }

    /** Only rows may differ: an embedding of another hidden size is bad input naming it, and nothing is written. */
    @Test
    void anEmbeddingOfAnotherHiddenSizeIsBadInput() throws IOException {
        Path narrow = tmp.resolve("narrow");
        ObjectNode config = untied();
        List<TensorInfo> tensors = SyntheticModels.tensors(config, DType.BF16).stream()
                .map(t -> t.name().equals("model.embed_tokens.weight")
                        ? new TensorInfo(t.name(), t.dtype(), new long[] {VOCAB, 31}) : t)
                .toList();
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(narrow), config, tensors,
                t -> new float[Math.toIntExact(t.numElements())], Long.MAX_VALUE, java.util.Map.of());
        Path out = tmp.resolve("out");
        BadInputException e = assertThrows(BadInputException.class, () -> merge(config("linear", base, narrow), "out"));
        assertTrue(e.getMessage().contains("tensor model.embed_tokens.weight hidden size differs: [64, 32] vs [64, 31]"),
                e.getMessage());
        assertFalse(Files.exists(out));
    }
}
