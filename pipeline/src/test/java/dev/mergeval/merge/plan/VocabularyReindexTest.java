package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.ModelDirectory;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code tokenizer_source} re-indexes every model's embedding and output-head rows to the output
 * vocabulary by token, as mergekit's {@code PermutedEmbeddings} does: a model that numbers the same
 * tokens differently merges exactly as the model numbered alike; a token a model lacks takes the
 * row of the only model that has it, the base model's, the mean of those that have it, or zeros;
 * {@code union} numbers the tokens the base lacks after its own, in a tokenizer that Hugging Face's
 * tokenizers library (through DJL) loads.
 */
class VocabularyReindexTest {

    private static final Configuration CONF = new Configuration();
    private static final int VOCAB = 64;
    private static final int HIDDEN = 32;
    private static final String EMBED = "model.embed_tokens.weight";
    private static final String HEAD = "lm_head.weight";

    @TempDir
    Path tmp;

    private Path base;
    private Path tuned;
    /** {@link #tuned} with tokens w3..w63 numbered in reverse, and its rows moved with them. */
    private Path permuted;
    /** {@link #tuned} with six more tokens, w64..w69, and their rows (the first 64 rows are tuned's). */
    private Path withTokens;

    @BeforeEach
    void writeModels() throws IOException {
        base = TinyModels.write(tmp.resolve("base"), untied(VOCAB), DType.BF16, 1, Long.MAX_VALUE);
        tuned = TinyModels.write(tmp.resolve("tuned"), untied(VOCAB), DType.BF16, 2, 30_000);
        withTokens = TinyModels.write(tmp.resolve("with-tokens"), untied(VOCAB + 6), DType.BF16, 2, 30_000);
        permuted = tmp.resolve("permuted");
        writePermuted(tuned, permuted);
    }

    private static ObjectNode untied(int vocab) {
        return TinyModels.llamaConfig().put("tie_word_embeddings", false).put("vocab_size", vocab);
    }

    /** Token {@code t} of {@code from} (3..63) becomes id {@code 66 - t}, with its embedding and head rows. */
    private static void writePermuted(Path from, Path to) throws IOException {
        try (Checkpoint in = Checkpoint.open(from.toString(), CONF)) {
            List<TensorInfo> tensors = in.tensorNames().stream().map(in::info).toList();
            SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(to), untied(VOCAB), tensors, t -> {
                float[] v = in.readFloats(t.name());
                if (!t.name().equals(EMBED) && !t.name().equals(HEAD)) {
                    return v;
                }
                float[] moved = v.clone();
                for (int token = 3; token < VOCAB; token++) {
                    System.arraycopy(v, token * HIDDEN, moved, sigma(token) * HIDDEN, HIDDEN);
                }
                return moved;
            }, Long.MAX_VALUE, Map.of());
        }
        TinyModels.writeTokenizer(to, VOCAB);
        ObjectNode tokenizer = (ObjectNode) Mappers.JSON.readTree(to.resolve("tokenizer.json").toFile());
        ObjectNode vocab = (ObjectNode) tokenizer.path("model").path("vocab");
        for (int token = 3; token < VOCAB; token++) {
            vocab.put("w" + token, sigma(token));
        }
        Files.writeString(to.resolve("tokenizer.json"), tokenizer.toPrettyString());
    }

    private static int sigma(int token) {
        return VOCAB + 2 - token;
    }

    private Path merge(String yaml, String name) {
        Path out = tmp.resolve(name);
        MergeJob.run(new MergeJob.Request("test.yaml", yaml, out.toString(), 3, false, PlanOptions.defaults()),
                new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
        return out;
    }

    /** A merge of {@code model} into {@link #base} with the base's vocabulary as the output's. */
    private String config(String method, Path model) {
        String body = switch (method) {
            case "linear" -> "models:\n  - model: %2$s\n    parameters: {weight: 0.6}\n"
                    + "  - model: %1$s\n    parameters: {weight: 0.4}\n";
            case "ties" -> "base_model: %1$s\nmodels:\n  - model: %2$s\n    parameters: {weight: 0.8, density: 0.5}\n";
            default -> "base_model: %1$s\nmodels:\n  - model: %2$s\nparameters: {t: 0.3}\n";
        };
        return "merge_method: " + method + "\n" + body.formatted(base, model) + "tokenizer_source: model:" + base + "\n";
    }

    @ParameterizedTest
    @ValueSource(strings = {"linear", "ties", "slerp"})
    void aModelNumberingTheTokensDifferentlyMergesAsOneNumberingThemAlike(String method) throws IOException {
        Path expected = merge(config(method, tuned), "expected");
        Path actual = merge(config(method, permuted), "actual");
        assertArrayEquals(Files.readAllBytes(expected.resolve("model.safetensors")),
                Files.readAllBytes(actual.resolve("model.safetensors")), method);
        assertArrayEquals(Files.readAllBytes(base.resolve("tokenizer.json")),
                Files.readAllBytes(actual.resolve("tokenizer.json")));
    }

    /**
     * An extra model input (RESTA's {@code unaligned_model}) is re-indexed like the models: one that
     * numbers the tokens differently merges as one numbering them alike, and one with more tokens
     * is read at the output vocabulary's rows (without it, its rows would be taken by index).
     */
    @Test
    void anExtraModelInputIsReindexedToo() throws IOException {
        String yaml = "merge_method: resta\nbase_model: %1$s\nmodels:\n  - model: %2$s\n"
                + "parameters:\n  unaligned_model: %3$s\n  scale: 0.5\ntokenizer_source: base\n";
        Path expected = merge(yaml.formatted(base, tuned, tuned), "resta-alike");
        Path actual = merge(yaml.formatted(base, tuned, permuted), "resta-permuted");
        assertArrayEquals(Files.readAllBytes(expected.resolve("model.safetensors")),
                Files.readAllBytes(actual.resolve("model.safetensors")));
        Path wider = merge(yaml.formatted(base, tuned, withTokens), "resta-wider");
        try (Checkpoint merged = Checkpoint.open(wider.toString(), CONF);
                Checkpoint alike = Checkpoint.open(expected.toString(), CONF)) {
            for (String name : List.of(EMBED, HEAD)) {
                assertArrayEquals(new long[] {VOCAB, HIDDEN}, merged.info(name).shape(), name);
                assertArrayEquals(alike.readFloats(name), merged.readFloats(name), name);
            }
        }
    }

    /**
     * The fine-tune's tokenizer, which adds tokens: the output has its rows and {@code vocab_size};
     * the tokens the base lacks keep the fine-tune's rows, as the only model that has them.
     */
    @Test
    void aFineTunesAddedTokensKeepItsRows() throws IOException {
        String yaml = "merge_method: linear\nmodels:\n  - model: %1$s\n    parameters: {weight: 0.6}\n"
                + "  - model: %2$s\n    parameters: {weight: 0.4}\ntokenizer_source: model:%1$s\n";
        Path out = merge(yaml.formatted(withTokens, base), "out");
        Path common = merge(yaml.formatted(tuned, base), "common");
        assertEquals(VOCAB + 6, json(out.resolve("config.json")).get("vocab_size").asInt());
        assertArrayEquals(Files.readAllBytes(withTokens.resolve("tokenizer.json")),
                Files.readAllBytes(out.resolve("tokenizer.json")));
        try (Checkpoint merged = Checkpoint.open(out.toString(), CONF);
                Checkpoint expected = Checkpoint.open(common.toString(), CONF);
                Checkpoint tune = Checkpoint.open(withTokens.toString(), CONF)) {
            for (String name : List.of(EMBED, HEAD)) {
                assertArrayEquals(new long[] {VOCAB + 6, HIDDEN}, merged.info(name).shape(), name);
                assertArrayEquals(expected.readFloats(name), merged.readFloats(name, 0, VOCAB * HIDDEN), name);
                assertArrayEquals(tune.readFloats(name, VOCAB * HIDDEN, 6 * HIDDEN),
                        merged.readFloats(name, VOCAB * HIDDEN, 6 * HIDDEN), name);
            }
        }
    }

    /** Where each model that lacks a token takes its row from, read through the merge's inputs. */
    @Test
    void aMissingTokenTakesTheOnlyDonorsTheBasesTheMeanOrZeros() throws IOException {
        Path other = TinyModels.write(tmp.resolve("other"), untied(VOCAB + 6), DType.BF16, 3, Long.MAX_VALUE);
        Path wider = Files.createDirectories(tmp.resolve("wider"));
        TinyModels.writeTokenizer(wider, VOCAB + 7);
        float[] a = rows(withTokens, VOCAB, 7);
        float[] b = rows(other, VOCAB, 7);
        float[] mean = new float[a.length];
        for (int i = 0; i < 6 * HIDDEN; i++) {
            mean[i] = TensorCodec.bf16ToFloat(TensorCodec.floatToBf16((float) ((a[i] + (double) b[i]) / 2)));
        }
        float[] zeros = new float[HIDDEN];

        // The only model with the token: its row.
        float[] only = reindexed("linear", null, withTokens, List.of(withTokens, base), base, "model:" + withTokens);
        assertArrayEquals(Arrays.copyOf(a, 6 * HIDDEN), only);
        // Two have it and there is no base model: their mean; a token no model has: zeros.
        float[] averaged = reindexed("linear", null, wider, List.of(withTokens, other, base), base, "model:" + wider);
        assertArrayEquals(Arrays.copyOf(mean, 6 * HIDDEN), Arrays.copyOf(averaged, 6 * HIDDEN));
        assertArrayEquals(zeros, Arrays.copyOfRange(averaged, 6 * HIDDEN, 7 * HIDDEN));
        // Two have it, one of them the base model: the base's row.
        float[] fromBase = reindexed("task_arithmetic", withTokens, withTokens, List.of(other, base), base,
                "base");
        assertArrayEquals(Arrays.copyOf(a, 6 * HIDDEN), fromBase);
    }

    /**
     * With {@code slices:}, a token's donors are the models of the matrix being filled (and the
     * base), as mergekit's {@code PermutedEmbeddings} sees them: the embedding of a frankenmerge
     * whose first slice's model lacks the fine-tune's added tokens gets zeros for them, not the
     * rows of the last slice's model, which gives the head and keeps its own rows there.
     */
    @Test
    void aSlicesMatrixTakesRowsOnlyFromItsOwnModels() throws IOException {
        String yaml = """
                merge_method: passthrough
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 1]}]
                  - sources: [{model: %2$s, layer_range: [1, 2]}]
                tokenizer_source: model:%2$s
                """.formatted(base, withTokens);
        Path out = merge(yaml, "franken");
        try (Checkpoint merged = Checkpoint.open(out.toString(), CONF);
                Checkpoint tune = Checkpoint.open(withTokens.toString(), CONF)) {
            assertArrayEquals(new float[6 * HIDDEN], merged.readFloats(EMBED, (long) VOCAB * HIDDEN, 6 * HIDDEN));
            assertArrayEquals(tune.readFloats(HEAD, (long) VOCAB * HIDDEN, 6 * HIDDEN),
                    merged.readFloats(HEAD, (long) VOCAB * HIDDEN, 6 * HIDDEN));
        }
    }

    /** {@code rows} rows of the embedding of {@code model} from row {@code first} (zeros past its end). */
    private static float[] rows(Path model, int first, int rows) {
        try (Checkpoint c = Checkpoint.open(model.toString(), CONF)) {
            long have = c.info(EMBED).shape()[0];
            float[] out = new float[rows * HIDDEN];
            int n = (int) Math.max(0, Math.min(rows, have - first));
            c.readFloats(EMBED, (long) first * HIDDEN, out, 0, n * HIDDEN);
            return out;
        }
    }

    /**
     * Rows 64.. of the embedding of {@code reader} as a merge with {@code tokenizer_source} reads
     * it, where {@code vocabulary} has the output's tokenizer.
     */
    private float[] reindexed(String method, Path baseModel, Path vocabulary, List<Path> models, Path reader,
            String source) throws IOException {
        StringBuilder yaml = new StringBuilder("merge_method: " + method + "\n");
        if (baseModel != null) {
            yaml.append("base_model: ").append(baseModel).append('\n');
        }
        yaml.append("models:\n");
        models.forEach(m -> yaml.append("  - model: ").append(m).append("\n    parameters: {weight: 0.5}\n"));
        yaml.append("tokenizer_source: ").append(source).append('\n');
        MergeConfig config = MergeConfig.parse(yaml.toString(), "test.yaml");
        int rows = dev.mergeval.checkpoint.ModelFiles.tokenizerVocabulary(vocabulary.toString(), CONF).size();
        try (MergeInputs inputs = MergeInputs.open(config, CONF)) {
            Checkpoint view = inputs.models().get(reader.toString());
            assertArrayEquals(new long[] {rows, HIDDEN}, view.info(EMBED).shape());
            return view.readFloats(EMBED, (long) VOCAB * HIDDEN, (rows - VOCAB) * HIDDEN);
        }
    }

    /**
     * The {@code tokenizer:} block: a listed token the vocabulary lacks is added (and written); a
     * listed token takes its entry's row where a model lacks it, and every model does with
     * {@code force}; the rows are padded to the multiple, each padding row the model's mean row.
     */
    @Test
    void theTokenizerBlockAddsTokensNamesTheirRowsAndPads() throws IOException {
        Path other = TinyModels.write(tmp.resolve("other"), untied(VOCAB), DType.BF16, 3, Long.MAX_VALUE);
        String yaml = "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n  - model: " + withTokens
                + "\n    parameters: {weight: 0.5}\n  - model: " + other + "\n    parameters: {weight: 0.5}\n"
                + "tokenizer:\n  source: base\n  tokens:\n"
                + "    w64: {source: {kind: model_token, model: " + withTokens + ", token_id: 65}}\n"
                + "    w3: {source: " + withTokens + ", force: true}\n"
                + "    wnew: {source: {kind: zero}}\n"
                + "  pad_to_multiple_of: 8\n";
        MergeConfig config = MergeConfig.parse(yaml, "test.yaml");
        float[] tune = rows(withTokens, 0, VOCAB + 6);
        try (MergeInputs inputs = MergeInputs.open(config, CONF)) {
            for (Path reader : List.of(base, withTokens)) {
                Checkpoint view = inputs.models().get(reader.toString());
                assertArrayEquals(new long[] {72, HIDDEN}, view.info(EMBED).shape());
                float[] e = view.readFloats(EMBED);
                float[] own = rows(reader, 0, VOCAB + 6);
                assertArrayEquals(row(tune, 3), row(e, 3), "w3 is forced to the fine-tune's row");
                assertArrayEquals(row(reader == base ? tune : own, reader == base ? 65 : 64), row(e, 64), "w64");
                assertArrayEquals(new float[HIDDEN], row(e, 65), "wnew: zeros");
                assertArrayEquals(row(own, 7), row(e, 7), "a token both have: its own row");
                float[] mean = new float[HIDDEN];
                for (int j = 0; j < HIDDEN; j++) {
                    double sum = 0;
                    for (int t = 0; t < 66; t++) {
                        sum += e[t * HIDDEN + j];
                    }
                    mean[j] = TensorCodec.bf16ToFloat(TensorCodec.floatToBf16((float) (sum / 66)));
                }
                for (int t = 66; t < 72; t++) {
                    assertArrayEquals(mean, row(e, t), "padding row " + t);
                }
            }
        }
        Path out = merge(yaml, "block");
        assertEquals(72, json(out.resolve("config.json")).get("vocab_size").asInt());
        ModelTokenizer tokenizer = ModelTokenizer.load(new ModelDirectory(out.toString(), CONF), -1, -1);
        assertArrayEquals(new int[] {64, 65, 3}, tokenizer.encode("w64 wnew w3", false));
        assertEquals("tokenizer:\n  source: base\n", MergeConfig.parse(yaml, "test.yaml").normalizedYaml()
                .lines().filter(l -> l.startsWith("tokenizer") || l.startsWith("  source")).reduce("",
                        (x, y) -> x + y + "\n"));
    }

    private static float[] row(float[] matrix, int t) {
        return Arrays.copyOfRange(matrix, t * HIDDEN, (t + 1) * HIDDEN);
    }

    /**
     * {@code union}: the base's 64 tokens, then the six the first fine-tune adds, then the two only
     * the second adds; the tokenizer written (and the one merged on load) numbers them so.
     */
    @Test
    void aUnionNumbersTheTokensTheBaseLacksAfterItsOwn() throws IOException {
        Path other = TinyModels.write(tmp.resolve("other"), untied(VOCAB + 8), DType.BF16, 3, Long.MAX_VALUE);
        String yaml = "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n  - model: " + withTokens
                + "\n    parameters: {weight: 0.5}\n  - model: " + other + "\n    parameters: {weight: 0.5}\n"
                + "tokenizer_source: union\n";
        Path out = merge(yaml, "union");
        assertEquals(VOCAB + 8, json(out.resolve("config.json")).get("vocab_size").asInt());
        JsonNode added = json(out.resolve("tokenizer.json")).get("added_tokens");
        assertEquals(3 + 8, added.size());
        for (int id = VOCAB; id < VOCAB + 8; id++) {
            assertEquals("w" + id, added.get(3 + id - VOCAB).get("content").asText());
            assertEquals(id, added.get(3 + id - VOCAB).get("id").asInt());
        }
        ModelTokenizer tokenizer = ModelTokenizer.load(new ModelDirectory(out.toString(), CONF), -1, -1);
        assertArrayEquals(new int[] {71, 64, 3}, tokenizer.encode("w71 w64 w3", false));
        try (Checkpoint merged = Checkpoint.open(out.toString(), CONF)) {
            assertArrayEquals(new long[] {VOCAB + 8, HIDDEN}, merged.info(EMBED).shape());
        }

        Path conf = tmp.resolve("union.yaml");
        Files.writeString(conf, yaml);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(out.toString(), CONF, RuntimeOptions.cpu());
                DjlLanguageModel onLoad = (DjlLanguageModel) ModelSources.load(
                        ModelSource.parse("merge:" + conf, CONF), CONF, RuntimeOptions.cpu())) {
            assertArrayEquals(new int[] {71, 64, 3}, onLoad.tokenizer().encode("w71 w64 w3", false));
            onDisk.parameters().forEach((name, array) -> assertArrayEquals(array.toFloatArray(),
                    onLoad.parameters().get(name).toFloatArray(), 0f, name));
            List<String> prompts = List.of("w70 w71 w5", "w64 w20");
            assertEquals(onDisk.generate(prompts, GenerationParams.greedy(6)).stream().map(Completion::outputIds)
                    .toList(), onLoad.generate(prompts, GenerationParams.greedy(6)).stream()
                    .map(Completion::outputIds).toList());
        }
    }

    private static JsonNode json(Path file) throws IOException {
        return Mappers.JSON.readTree(file.toFile());
    }
}
