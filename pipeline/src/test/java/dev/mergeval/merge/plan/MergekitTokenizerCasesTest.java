package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mergekit's own tokenizer tests ({@code tests/test_tokenizer.py}), case by case, on the same three
 * models: a base of 64 tokens; a chat model with {@code <|im_start|>} and {@code <|im_end|>} added
 * (66 rows); a padded model whose tokenizer adds four {@code <UNUSED_i>} tokens beyond its 64 rows
 * ({@code vocab_size} 64). Linear, weight 1 each, float32, as its {@code make_config}. Each case
 * checks what mergekit's does: the output vocabulary's size, its added tokens, the tokens it must
 * and must not have, and the rows it names.
 */
class MergekitTokenizerCasesTest {

    private static final Configuration CONF = new Configuration();
    private static final String EMBED = "model.embed_tokens.weight";
    private static final int HIDDEN = 32;

    @TempDir
    Path tmp;

    private Path base;
    private Path chatml;
    private Path padded;

    @BeforeEach
    void writeModels() throws IOException {
        base = TinyModels.write(tmp.resolve("model_base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        chatml = TinyModels.write(tmp.resolve("model_chatml"), TinyModels.llamaConfig().put("vocab_size", 66),
                DType.F32, 2, Long.MAX_VALUE);
        TinyModels.writeTokenizer(chatml, 64);
        addTokens(chatml, List.of("<|im_start|>", "<|im_end|>"));
        padded = TinyModels.write(tmp.resolve("model_padded"), TinyModels.llamaConfig(), DType.F32, 3,
                Long.MAX_VALUE);
        addTokens(padded, List.of("<UNUSED_0>", "<UNUSED_1>", "<UNUSED_2>", "<UNUSED_3>"));
    }

    /** Adds {@code tokens} to the model's tokenizer as transformers' {@code add_tokens} does. */
    private static void addTokens(Path model, List<String> tokens) throws IOException {
        ObjectNode json = (ObjectNode) Mappers.JSON.readTree(model.resolve("tokenizer.json").toFile());
        ArrayNode added = json.withArray("added_tokens");
        int id = json.path("model").path("vocab").size();
        for (String token : tokens) {
            added.addObject().put("id", id++).put("content", token).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", true).put("special", false);
        }
        Files.writeString(model.resolve("tokenizer.json"), json.toPrettyString());
    }

    private String config(List<Path> models, String tail) {
        StringBuilder yaml = new StringBuilder("merge_method: linear\nbase_model: " + models.get(0) + "\nmodels:\n");
        models.forEach(m -> yaml.append("  - model: ").append(m).append("\n    parameters: {weight: 1.0}\n"));
        return yaml.append("dtype: float32\n").append(tail).toString();
    }

    private Path merge(String yaml, String name) {
        Path out = tmp.resolve(name);
        MergeJob.run(new MergeJob.Request("test.yaml", yaml, out.toString(), 0, false, PlanOptions.defaults()),
                new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
        return out;
    }

    /** mergekit's {@code check_tokenizer}: the vocabulary's size, the added tokens, tokens in and out. */
    private static void checkTokenizer(Path out, int size, Integer addedCount, List<String> in, List<String> notIn)
            throws IOException {
        Map<String, Integer> vocab = ModelFiles.tokenizerVocabulary(out.toString(), CONF);
        assertEquals(size, vocab.size(), "vocabulary " + vocab.keySet());
        if (addedCount != null) {
            assertEquals(addedCount, Mappers.JSON.readTree(out.resolve("tokenizer.json").toFile())
                    .get("added_tokens").size());
        }
        in.forEach(t -> assertTrue(vocab.containsKey(t), t));
        notIn.forEach(t -> assertFalse(vocab.containsKey(t), t));
    }

    /** mergekit's {@code ModelEmbeddings.token_embedding}: the embedding row of {@code token} in {@code model}. */
    private static float[] row(Path model, String token) {
        int id = ModelFiles.tokenizerVocabulary(model.toString(), CONF).get(token);
        return rowAt(model, id);
    }

    private static float[] rowAt(Path model, int id) {
        try (Checkpoint c = Checkpoint.open(model.toString(), CONF)) {
            return c.readFloats(EMBED, (long) id * HIDDEN, HIDDEN);
        }
    }

    @Test
    void legacyModeAndSourceBaseKeepTheBaseTokenizer() throws IOException {
        for (String tail : List.of("", "tokenizer_source: base\n")) {
            Path out = merge(config(List.of(base, padded, chatml), tail), "base-" + tail.length());
            checkTokenizer(out, 64, 3, List.of(), List.of("<|im_start|>"));
            assertEquals(64, json(out.resolve("config.json")).get("vocab_size").asInt());
        }
    }

    /**
     * Without a {@code base_model}, {@code base} is the first model's tokenizer, as mergekit's
     * {@code build_tokenizer} takes it.
     */
    @Test
    void sourceBaseWithoutABaseModelIsTheFirstModels() throws IOException {
        Path out = merge(config(List.of(chatml, base), "tokenizer_source: base\n").replaceFirst("base_model: .*\n", ""),
                "first");
        checkTokenizer(out, 66, 5, List.of("<|im_start|>", "<|im_end|>"), List.of());
        assertArrayEquals(row(chatml, "<|im_start|>"), row(out, "<|im_start|>"));
        assertEquals(66, json(out.resolve("config.json")).get("vocab_size").asInt());
    }

    @Test
    void sourceUnionHasEveryUsedTokenAndTheChatModelsRows() throws IOException {
        Path out = merge(config(List.of(base, padded, chatml), "tokenizer_source: union\n"), "union");
        checkTokenizer(out, 66, 5, List.of("<|im_start|>", "<|im_end|>"),
                List.of("<UNUSED_0>", "<UNUSED_1>", "<UNUSED_2>", "<UNUSED_3>"));
        assertArrayEquals(row(chatml, "<|im_start|>"), row(out, "<|im_start|>"));
        assertArrayEquals(row(chatml, "<|im_end|>"), row(out, "<|im_end|>"), 1e-3f);
    }

    @Test
    void sourceModelAndSlerpUnionTakeTheChatTokens() throws IOException {
        checkTokenizer(merge(config(List.of(base, padded, chatml), "tokenizer_source: " + chatml + "\n"), "model"),
                66, null, List.of("<|im_start|>", "<|im_end|>"), List.of());
        String slerp = config(List.of(base, chatml), "tokenizer_source: union\nparameters: {t: 0.5}\n")
                .replace("merge_method: linear", "merge_method: slerp").replace("    parameters: {weight: 1.0}\n", "");
        checkTokenizer(merge(slerp, "slerp"), 66, null, List.of("<|im_start|>", "<|im_end|>"), List.of());
    }

    @Test
    void forcedTokensTakeTheNamedModelsRows() throws IOException {
        Path out = merge(config(List.of(base, chatml), """
                tokenizer:
                  source: union
                  tokens:
                    w10: {source: %s, force: true}
                    w11: {source: %s, force: true}
                """.formatted(chatml, base)), "force");
        checkTokenizer(out, 66, null, List.of("<|im_start|>", "<|im_end|>"), List.of());
        assertArrayEquals(row(chatml, "w10"), row(out, "w10"));
        assertArrayEquals(row(base, "w11"), row(out, "w11"));
    }

    @Test
    void modelTokenSourcesTakeARowByIdOrByToken() throws IOException {
        Path out = merge(config(List.of(base, chatml), """
                tokenizer:
                  source: base
                  tokens:
                    w20: {source: {kind: model_token, model: %s, token_id: 64}, force: true}
                    w21: {source: {kind: model_token, model: %s, token: "<s>"}, force: true}
                """.formatted(chatml, base)), "model-token");
        checkTokenizer(out, 64, null, List.of("w10"), List.of());
        assertArrayEquals(rowAt(chatml, 64), row(out, "w20"));
        assertArrayEquals(row(base, "<s>"), row(out, "w21"));
    }

    @Test
    void padToMultipleOfRoundsTheRowsAndVocabSizeUp() throws IOException {
        Path out = merge("merge_method: linear\nbase_model: " + chatml + "\nmodels:\n  - model: " + chatml
                + "\n    parameters: {weight: 1.0}\ndtype: float32\ntokenizer:\n  source: base\n"
                + "  pad_to_multiple_of: 16\n", "padded");
        int padded = (66 / 16 + 1) * 16;
        assertEquals(padded, json(out.resolve("config.json")).get("vocab_size").asInt());
        checkTokenizer(out, 66, null, List.of("<|im_start|>", "<|im_end|>"), List.of());
        try (Checkpoint c = Checkpoint.open(out.toString(), CONF)) {
            assertEquals(padded, c.info(EMBED).shape()[0]);
            float[] e = c.readFloats(EMBED);
            double[] mean = new double[HIDDEN];
            for (int t = 0; t < 66; t++) {
                for (int j = 0; j < HIDDEN; j++) {
                    mean[j] += e[t * HIDDEN + j];
                }
            }
            float[] expected = new float[HIDDEN];
            for (int j = 0; j < HIDDEN; j++) {
                expected[j] = (float) (mean[j] / 66);
            }
            assertArrayEquals(expected, Arrays.copyOfRange(e, (padded - 1) * HIDDEN, padded * HIDDEN),
                    "a padding row is the mean of the vocabulary's rows");
        }
    }

    private static JsonNode json(Path file) throws IOException {
        return Mappers.JSON.readTree(file.toFile());
    }
}
