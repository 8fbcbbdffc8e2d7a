package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code slices:} merges of real 4-layer safetensors checkpoints written by the test (runnable tiny
 * Llamas with untied embeddings): frankenmerge layers are the source layers byte for byte, a single
 * slice over every layer is the {@code models:} form byte for byte, gradients run within each slice,
 * and the output loads and generates, written to disk or merged on load.
 */
class SlicesMergeTest {

    private static final Configuration CONF = new Configuration();

    @TempDir
    static Path models;

    static String a;
    static String b;
    static String c;

    @BeforeAll
    static void writeModels() {
        ObjectNode config = TinyModels.llamaConfig();
        config.put("num_hidden_layers", 4);
        config.put("tie_word_embeddings", false);
        a = TinyModels.write(models.resolve("a"), config, DType.BF16, 1, 20_000).toString();
        b = TinyModels.write(models.resolve("b"), config, DType.BF16, 2, Long.MAX_VALUE).toString();
        c = TinyModels.write(models.resolve("c"), config, DType.BF16, 3, Long.MAX_VALUE).toString();
    }

    /** A[0, 2) then B[1, 4): five layers, the embedding from A, the final norm and LM head from B. */
    private static String frankenmerge() {
        return """
                merge_method: passthrough
                slices:
                  - sources:
                      - model: %s
                        layer_range: [0, 2]
                  - sources:
                      - model: %s
                        layer_range: [1, 4]
                """.formatted(a, b);
    }

    @Test
    void frankenmergeLayersAreTheSourceLayersByteForByte(@TempDir Path out) throws IOException {
        Path dir = out.resolve("franken");
        MergeJob.run(request(frankenmerge(), dir), executor(2), CONF);
        // output layer k <- (model, source layer)
        List<Object[]> from = List.of(new Object[] {a, 0}, new Object[] {a, 1}, new Object[] {b, 1},
                new Object[] {b, 2}, new Object[] {b, 3});
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mb = Checkpoint.open(b, CONF)) {
            int layerTensors = 0;
            for (String name : merged.tensorNames()) {
                int k = TensorMerger.layerIndex(name);
                Checkpoint source;
                String input;
                if (k >= 0) {
                    source = from.get(k)[0].equals(a) ? ma : mb;
                    input = TensorMerger.withLayerIndex(name, (Integer) from.get(k)[1]);
                    layerTensors++;
                } else {
                    source = name.contains("embed") ? ma : mb;
                    input = name;
                }
                assertArrayEquals(raw(source, input), raw(merged, name), name + " <- " + source.location() + " " + input);
            }
            assertEquals(5 * 9, layerTensors, "nine tensors in each of five layers: " + merged.tensorNames());
            assertEquals(5 * 9 + 3, merged.tensorNames().size());
            assertEquals(List.of("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"),
                    merged.tensorNames().subList(0, 2), "the reference's order");
            assertTrue(merged.tensorNames().indexOf("model.layers.4.mlp.up_proj.weight")
                    < merged.tensorNames().indexOf("model.norm.weight"), "a deeper layer before the final norm");
        }
        JsonNode config = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(5, config.get("num_hidden_layers").asInt());
        JsonNode provenance = Mappers.JSON.readTree(dir.resolve(OutputPublisher.PROVENANCE_FILE).toFile());
        assertEquals(5, provenance.at("/plan/num_layers").asInt());
        assertEquals(1, provenance.at("/plan/layers/3/slice").asInt());
        assertEquals(2, provenance.at("/plan/layers/3/sources").get(b).asInt());
        assertTrue(provenance.get("config").asText().contains("layer_range"), provenance.get("config").asText());

        try (DjlLanguageModel model = LanguageModels.loadDirectory(dir.toString(), CONF, RuntimeOptions.cpu())) {
            List<Completion> completions = model.generate(List.of("w3 w4 w5"), GenerationParams.greedy(6));
            assertEquals(1, completions.size());
            assertTrue(completions.get(0).outputIds().size() == 6 || "stop".equals(completions.get(0).finishReason()),
                    "six new tokens or an end: " + completions);
        }
    }

    /**
     * A config's per-layer lists ({@code layer_types}, {@code no_rope_layers}) follow the layers: each
     * output layer takes its source layer's entry from its source model's config, so the lists have
     * {@code num_hidden_layers} entries, as transformers requires of {@code layer_types}.
     */
    @Test
    void perLayerConfigListsFollowTheLayers(@TempDir Path out) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false);
        ObjectNode withA = config.deepCopy();
        withA.putArray("layer_types").add("sliding_attention").add("full_attention").add("sliding_attention")
                .add("full_attention");
        withA.putArray("no_rope_layers").add(1).add(1).add(1).add(0);
        ObjectNode withB = config.deepCopy();
        withB.putArray("layer_types").add("full_attention").add("linear_attention").add("chunked_attention")
                .add("sliding_attention");
        String la = TinyModels.write(out.resolve("la"), withA, DType.BF16, 1, Long.MAX_VALUE).toString();
        String lb = TinyModels.write(out.resolve("lb"), withB, DType.BF16, 2, Long.MAX_VALUE).toString();
        Path dir = out.resolve("franken");
        MergeJob.run(request(frankenmerge().replace(a, la).replace(b, lb), dir), executor(2), CONF);
        JsonNode merged = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(5, merged.get("num_hidden_layers").asInt());
        assertEquals(Mappers.JSON.readTree("[\"sliding_attention\", \"full_attention\", \"linear_attention\","
                + " \"chunked_attention\", \"sliding_attention\"]"), merged.get("layer_types"));
        // lb has no no_rope_layers: its layers take the copied config's (la's) entries of their indices.
        assertEquals(Mappers.JSON.readTree("[1, 1, 1, 1, 0]"), merged.get("no_rope_layers"));
    }

    /**
     * Where the config has no {@code layer_types} and transformers derives them from the layer index
     * (Qwen2 with sliding windows above {@code max_window_layers} 2), the output lists each layer's
     * source layer's type: by index, output layer 2 (layer 1 of the second model, full attention)
     * would slide. A stack whose layers keep their types by index gets no list.
     */
    @Test
    void layerTypesDerivedFromTheIndexFollowTheLayers(@TempDir Path out) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false)
                .put("model_type", "qwen2").put("use_sliding_window", true).put("sliding_window", 4096)
                .put("max_window_layers", 2);
        String qa = TinyModels.write(out.resolve("qa"), config, DType.BF16, 1, Long.MAX_VALUE).toString();
        String qb = TinyModels.write(out.resolve("qb"), config, DType.BF16, 2, Long.MAX_VALUE).toString();
        Path dir = out.resolve("franken");
        MergeJob.run(request(frankenmerge().replace(a, qa).replace(b, qb), dir), executor(2), CONF);
        assertEquals(Mappers.JSON.readTree("[\"full_attention\", \"full_attention\", \"full_attention\","
                + " \"sliding_attention\", \"sliding_attention\"]"),
                Mappers.JSON.readTree(dir.resolve("config.json").toFile()).get("layer_types"));

        Path kept = out.resolve("kept");
        String sameIndices = """
                merge_method: passthrough
                slices:
                  - sources: [{model: %s, layer_range: [0, 2]}]
                  - sources: [{model: %s, layer_range: [2, 4]}]
                """.formatted(qa, qb);
        MergeJob.run(request(sameIndices, kept), executor(2), CONF);
        assertFalse(Mappers.JSON.readTree(kept.resolve("config.json").toFile()).has("layer_types"),
                "every layer keeps its index, so transformers derives the same types");
    }

    /**
     * A frankenmerge of a model and one that added six tokens takes the embedding from the first
     * slice and the head from the last, each cut to the rows both have, whichever comes first; the
     * config declares those rows, and the output loads and generates.
     */
    @Test
    void tokenMatricesOfSlicesFromModelsWithAddedTokensKeepTheCommonRows(@TempDir Path out) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false);
        int vocab = config.get("vocab_size").asInt();
        String wide = TinyModels.write(out.resolve("wide"), config.deepCopy().put("vocab_size", vocab + 6), DType.BF16,
                4, Long.MAX_VALUE).toString();
        for (boolean wideFirst : new boolean[] {false, true}) {
            String first = wideFirst ? wide : a;
            String last = wideFirst ? a : wide;
            Path dir = out.resolve(wideFirst ? "wide-first" : "wide-last");
            MergeJob.run(request(frankenmerge().replace(a, "FIRST").replace(b, last).replace("FIRST", first), dir),
                    executor(2), CONF);
            try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF);
                    Checkpoint from = Checkpoint.open(first, CONF); Checkpoint to = Checkpoint.open(last, CONF)) {
                for (String name : List.of("model.embed_tokens.weight", "lm_head.weight")) {
                    Checkpoint source = name.startsWith("model.") ? from : to;
                    assertArrayEquals(new long[] {vocab, 32}, merged.info(name).shape(), name);
                    byte[] rows = raw(merged, name);
                    assertArrayEquals(source.readRaw(name, 0, rows.length), rows, name + " <- " + source.location());
                }
            }
            assertEquals(vocab, Mappers.JSON.readTree(dir.resolve("config.json").toFile()).get("vocab_size").asInt());
            try (DjlLanguageModel model = LanguageModels.loadDirectory(dir.toString(), CONF, RuntimeOptions.cpu())) {
                assertEquals(1, model.generate(List.of("w3 w4 w5"), GenerationParams.greedy(4)).size());
            }
        }
    }

    @Test
    void frankenmergeMergedOnLoadEqualsTheOneWrittenToDisk(@TempDir Path out) throws IOException {
        Path conf = out.resolve("franken.yaml");
        Files.writeString(conf, frankenmerge());
        Path dir = out.resolve("written");
        MergeJob.run(new MergeJob.Request(conf.toString(), frankenmerge(), dir.toString(), 0, false,
                PlanOptions.defaults(), conf.toString()), executor(1), CONF);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(dir.toString(), CONF, RuntimeOptions.cpu());
                DjlLanguageModel onLoad = (DjlLanguageModel) ModelSources.load(
                        ModelSource.parse("merge:" + conf, CONF), CONF, RuntimeOptions.cpu())) {
            assertTrue(onLoad.parameters().containsKey("model.layers.4.mlp.up_proj.weight"), "five layers");
            assertEquals(onDisk.parameters().keySet(), onLoad.parameters().keySet());
            onDisk.parameters().forEach((name, array) -> assertArrayEquals(array.toFloatArray(),
                    onLoad.parameters().get(name).toFloatArray(), 0f, name));
            List<String> prompts = List.of("w3 w4 w5", "w10 w20");
            assertEquals(onDisk.generate(prompts, GenerationParams.greedy(8)).stream().map(Completion::outputIds).toList(),
                    onLoad.generate(prompts, GenerationParams.greedy(8)).stream().map(Completion::outputIds).toList());
        }
    }

    /** The {@code models:} form and the {@code slices:} form of one merge, in that order. */
    private static String[] forms(String method) {
        return switch (method) {
            case "linear" -> new String[] {"""
                    merge_method: linear
                    models:
                      - {model: %1$s, parameters: {weight: 0.3}}
                      - {model: %2$s, parameters: {weight: [0.2, 0.9]}}
                    dtype: float32
                    """.formatted(a, b), """
                    merge_method: linear
                    slices:
                      - sources:
                          - {model: %1$s, layer_range: [0, 4], parameters: {weight: 0.3}}
                          - {model: %2$s, layer_range: [0, 4], parameters: {weight: [0.2, 0.9]}}
                    dtype: float32
                    """.formatted(a, b)};
            case "slerp" -> new String[] {"""
                    merge_method: slerp
                    base_model: %1$s
                    models: [{model: %1$s}, {model: %2$s}]
                    parameters:
                      t:
                        - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}
                        - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}
                        - value: 0.5
                    dtype: bfloat16
                    """.formatted(a, b), """
                    slices:
                      - sources:
                          - {model: %1$s, layer_range: [0, 4]}
                          - {model: %2$s, layer_range: [0, 4]}
                    merge_method: slerp
                    base_model: %1$s
                    parameters:
                      t:
                        - {filter: self_attn, value: [0, 0.5, 0.3, 0.7, 1]}
                        - {filter: mlp, value: [1, 0.5, 0.7, 0.3, 0]}
                        - value: 0.5
                    dtype: bfloat16
                    """.formatted(a, b)};
            case "ties" -> new String[] {"""
                    merge_method: ties
                    base_model: %1$s
                    models:
                      - {model: %2$s, parameters: {weight: 0.6, density: [0.3, 0.9]}}
                      - {model: %3$s, parameters: {weight: 0.4, density: 0.5}}
                    parameters: {normalize: true}
                    """.formatted(a, b, c), """
                    merge_method: ties
                    base_model: %1$s
                    slices:
                      - sources:
                          - {model: %2$s, layer_range: [0, 4], parameters: {weight: 0.6, density: [0.3, 0.9]}}
                          - {model: %3$s, layer_range: [0, 4], parameters: {weight: 0.4, density: 0.5}}
                          - {model: %1$s, layer_range: [0, 4]}
                        parameters: {normalize: true}
                    """.formatted(a, b, c)};
            default -> throw new IllegalArgumentException(method);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"linear", "slerp", "ties"})
    void oneSliceOverEveryLayerIsTheModelsFormByteForByte(String method, @TempDir Path out) throws IOException {
        String[] forms = forms(method);
        Path models = out.resolve("models");
        Path slices = out.resolve("slices");
        MergeJob.run(request(forms[0], models), executor(2), CONF);
        MergeJob.run(request(forms[1], slices), executor(1), CONF);
        Map<String, String> hashes = MergeJobTest.shardHashes(models, false);
        assertFalse(hashes.isEmpty());
        assertEquals(hashes, MergeJobTest.shardHashes(slices, false), method);
        assertEquals(Files.readString(models.resolve("config.json")), Files.readString(slices.resolve("config.json")));
        try (Checkpoint merged = Checkpoint.open(slices.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF)) {
            assertEquals(ma.tensorNames(), merged.tensorNames());
            String q = "model.layers.1.self_attn.q_proj.weight";
            assertFalse(java.util.Arrays.equals(raw(ma, q), raw(merged, q)), "the merge changed " + q);
        }
    }

    /**
     * Gradients run over each slice: with {@code t: [0, 1]} and two slices of two layers, the first
     * layer of each slice is the base model's (t = 0) and the second the other model's (t = 1),
     * where over the whole model they would be at 0, 1/3, 2/3 and 1. The tensors outside the
     * layers are at t = 0 (mergekit's module-level reader), the final norm after them included.
     */
    @Test
    void gradientsInterpolateWithinEachSlice(@TempDir Path out) {
        slerpOverTwoSlices(out.resolve("gradient"), "", "[0, 1]", (merged, ma, mb) -> {
            for (int layer = 0; layer < 4; layer++) {
                String name = "model.layers." + layer + ".mlp.down_proj.weight";
                Checkpoint expected = layer % 2 == 0 ? ma : mb;
                assertArrayEquals(raw(expected, name), raw(merged, name), name);
                assertNotEquals(java.util.Arrays.toString(raw(layer % 2 == 0 ? mb : ma, name)),
                        java.util.Arrays.toString(raw(merged, name)), name);
            }
            for (String name : List.of("model.embed_tokens.weight", "model.norm.weight")) {
                assertArrayEquals(raw(ma, name), raw(merged, name), name);
                assertNotEquals(java.util.Arrays.toString(raw(mb, name)), java.util.Arrays.toString(raw(merged, name)),
                        name);
            }
        });
    }

    /**
     * A slice's own {@code base_model} replaces the config's for its layers, and for the tensors
     * after the layers where it is the last slice (mergekit's {@code ConfigReader.base_model}): slerp
     * at {@code t = 0} gives each slice's base.
     */
    @Test
    void aSlicesOwnBaseModelIsItsBase(@TempDir Path out) {
        slerpOverTwoSlices(out.resolve("own-base"), "base_model: " + b, "0", (merged, ma, mb) -> {
            for (int layer = 0; layer < 4; layer++) {
                String name = "model.layers." + layer + ".mlp.down_proj.weight";
                assertArrayEquals(raw(layer < 2 ? ma : mb, name), raw(merged, name), name);
            }
            assertArrayEquals(raw(ma, "model.embed_tokens.weight"), raw(merged, "model.embed_tokens.weight"));
            assertArrayEquals(raw(mb, "model.norm.weight"), raw(merged, "model.norm.weight"));
        });
    }

    /**
     * A slice of one source, the usual way to keep a model's first layers before merging the rest:
     * slerp, nuslerp and karcher copy the lone model's layers as mergekit's {@code len(tensors) == 1}
     * return does; model_stock does so only where the lone model is the base, and refuses another.
     */
    @ParameterizedTest
    @ValueSource(strings = {"slerp", "nuslerp", "karcher"})
    void aSliceOfOneSourceIsCopiedWhereMergekitReturnsALoneTensor(String method, @TempDir Path out) {
        String yaml = """
                merge_method: %3$s
                %4$s
                slices:
                  - sources: [{model: %2$s, layer_range: [0, 2]}]
                  - sources: [{model: %1$s, layer_range: [2, 4]}, {model: %2$s, layer_range: [2, 4]}]
                parameters: {t: 0.5, weight: 0.5}
                """.formatted(a, b, method, method.equals("nuslerp") ? "" : "base_model: " + a);
        Path dir = out.resolve(method);
        MergeJob.run(request(yaml, dir), executor(2), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mb = Checkpoint.open(b, CONF)) {
            for (int layer = 0; layer < 4; layer++) {
                String name = "model.layers." + layer + ".mlp.down_proj.weight";
                if (layer < 2) {
                    assertArrayEquals(raw(mb, name), raw(merged, name), name);
                } else {
                    assertFalse(Arrays.equals(raw(ma, name), raw(merged, name)), name + " merged");
                    assertFalse(Arrays.equals(raw(mb, name), raw(merged, name)), name + " merged");
                }
            }
            assertArrayEquals(raw(mb, "model.embed_tokens.weight"), raw(merged, "model.embed_tokens.weight"));
        }
        String stock = """
                merge_method: model_stock
                base_model: %1$s
                slices:
                  - sources: [{model: %4$s, layer_range: [0, 2]}]
                  - sources: [{model: %1$s, layer_range: [2, 4]}, {model: %2$s, layer_range: [2, 4]}, {model: %3$s, layer_range: [2, 4]}]
                """;
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(stock.formatted(a, b, c, b), out.resolve("stock")), executor(2), CONF));
        assertTrue(e.getMessage().contains("slices[0]"), e.getMessage());
        Path kept = out.resolve("stock-base");
        MergeJob.run(request(stock.formatted(a, b, c, a), kept), executor(2), CONF);
        try (Checkpoint merged = Checkpoint.open(kept.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF)) {
            String name = "model.layers.1.self_attn.q_proj.weight";
            assertArrayEquals(raw(ma, name), raw(merged, name), name);
        }
    }

    /** What a test holds the merge and its two inputs to. */
    private interface MergedCheck {
        void check(Checkpoint merged, Checkpoint ma, Checkpoint mb);
    }

    /**
     * Slerp of {@code a} (the config's base) and {@code b} over two slices of two layers each, with
     * {@code t} and {@code secondSlice} as the second slice's extra key (or ""), merged into
     * {@code dir}, then {@code check}.
     */
    private static void slerpOverTwoSlices(Path dir, String secondSlice, String t, MergedCheck check) {
        String yaml = """
                merge_method: slerp
                base_model: %1$s
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}, {model: %2$s, layer_range: [0, 2]}]
                  - sources: [{model: %1$s, layer_range: [2, 4]}, {model: %2$s, layer_range: [2, 4]}]
                    %3$s
                parameters: {t: %4$s}
                """.formatted(a, b, secondSlice, t);
        MergeJob.run(request(yaml, dir), executor(2), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mb = Checkpoint.open(b, CONF)) {
            check.check(merged, ma, mb);
        }
    }

    @Test
    void layerRangeBeyondTheModelIsBadInputNamingTheKey(@TempDir Path out) {
        String yaml = """
                merge_method: passthrough
                slices:
                  - sources: [{model: %s, layer_range: [0, 2]}]
                  - sources: [{model: %s, layer_range: [2, 6]}]
                """.formatted(a, b);
        Path dir = out.resolve("bad");
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, dir), executor(1), CONF));
        assertEquals("test.yaml: slices[1].sources[0].layer_range: [2, 6) is outside model '" + b
                + "', which has 4 layers [0, 4)", e.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
    }

    /**
     * A 3-layer GPT-2 with every weight mergekit's gpt2 definition requires, the head tied, its
     * names under {@code prefix} ({@code transformer.} as transformers saves it, none as the Hub's
     * {@code openai-community/gpt2} stores it), its values shifted by {@code shift}.
     */
    static Path gpt2(Path dir, String prefix, int shift) throws IOException {
        return gpt2(dir, prefix, shift, false);
    }

    /** {@link #gpt2(Path, String, int)}, with an untied {@code lm_head.weight} where {@code head}. */
    static Path gpt2(Path dir, String prefix, int shift, boolean head) throws IOException {
        ObjectNode config = Mappers.JSON.createObjectNode().put("model_type", "gpt2").put("n_layer", 3)
                .put("n_embd", 4).put("vocab_size", 8);
        config.putArray("architectures").add("GPT2LMHeadModel");
        List<TensorInfo> tensors = new java.util.ArrayList<>();
        tensors.add(new TensorInfo(prefix + "wte.weight", DType.F32, new long[] {8, 4}));
        tensors.add(new TensorInfo(prefix + "wpe.weight", DType.F32, new long[] {8, 4}));
        Map<String, long[]> layer = new java.util.LinkedHashMap<>();
        layer.put("ln_1.weight", new long[] {4});
        layer.put("ln_1.bias", new long[] {4});
        layer.put("attn.c_attn.weight", new long[] {4, 12});
        layer.put("attn.c_attn.bias", new long[] {12});
        layer.put("attn.c_proj.weight", new long[] {4, 4});
        layer.put("attn.c_proj.bias", new long[] {4});
        layer.put("ln_2.weight", new long[] {4});
        layer.put("ln_2.bias", new long[] {4});
        layer.put("mlp.c_fc.weight", new long[] {4, 16});
        layer.put("mlp.c_fc.bias", new long[] {16});
        layer.put("mlp.c_proj.weight", new long[] {16, 4});
        layer.put("mlp.c_proj.bias", new long[] {4});
        for (int i = 0; i < 3; i++) {
            for (Map.Entry<String, long[]> w : layer.entrySet()) {
                tensors.add(new TensorInfo(prefix + "h." + i + "." + w.getKey(), DType.F32, w.getValue()));
            }
        }
        tensors.add(new TensorInfo(prefix + "ln_f.weight", DType.F32, new long[] {4}));
        tensors.add(new TensorInfo(prefix + "ln_f.bias", DType.F32, new long[] {4}));
        if (head) {
            tensors.add(new TensorInfo("lm_head.weight", DType.F32, new long[] {8, 4}));
        }
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), config, tensors, t -> {
            float[] v = new float[Math.toIntExact(t.numElements())];
            String unprefixed = t.name().startsWith(prefix) ? t.name().substring(prefix.length()) : t.name();
            for (int j = 0; j < v.length; j++) {
                v[j] = unprefixed.hashCode() % 97 + j + shift;
            }
            return v;
        }, Long.MAX_VALUE, Map.of());
        return dir;
    }

    /**
     * GPT-2 as the Hub stores it ({@code h.0.attn.c_attn.weight}) and as transformers saves a
     * fine-tune of it ({@code transformer.h.0...}): mergekit's gpt2 definition lists both as one
     * weight's names and merges the two. Each model's tensor is read under the first slice's model's
     * spelling, which the output keeps; the final norm comes from the last slice's model, whichever
     * its spelling.
     */
    @Test
    void gpt2sTwoSpellingsMergeAsOneWeight(@TempDir Path out) throws IOException {
        Path hub = gpt2(out.resolve("hub"), "", 0);
        Path tuned = gpt2(out.resolve("tuned"), "transformer.", 1000);
        Path stack = stack(hub, tuned, out.resolve("stack"));
        Path mean = out.resolve("mean");
        MergeJob.run(request("""
                merge_method: linear
                models:
                  - {model: %s, parameters: {weight: 0.5}}
                  - {model: %s, parameters: {weight: 0.5}}
                """.formatted(tuned, hub), mean), executor(1), CONF);
        try (Checkpoint h = Checkpoint.open(hub.toString(), CONF); Checkpoint t = Checkpoint.open(tuned.toString(), CONF);
                Checkpoint stacked = Checkpoint.open(stack.toString(), CONF);
                Checkpoint averaged = Checkpoint.open(mean.toString(), CONF)) {
            assertEquals(4 + 12 * 4, stacked.tensorNames().size(), stacked.tensorNames().toString());
            assertArrayEquals(raw(h, "wte.weight"), raw(stacked, "wte.weight"));
            assertArrayEquals(raw(h, "h.1.mlp.c_fc.weight"), raw(stacked, "h.1.mlp.c_fc.weight"));
            assertArrayEquals(raw(t, "transformer.h.1.mlp.c_fc.weight"), raw(stacked, "h.2.mlp.c_fc.weight"));
            assertArrayEquals(raw(t, "transformer.ln_f.bias"), raw(stacked, "ln_f.bias"));
            assertEquals(4 + 12 * 3, averaged.tensorNames().size(), averaged.tensorNames().toString());
            float[] a = new float[64];
            float[] b = new float[64];
            float[] m = new float[64];
            h.readFloats("h.2.mlp.c_fc.weight", 0, a, 0, 64);
            t.readFloats("transformer.h.2.mlp.c_fc.weight", 0, b, 0, 64);
            averaged.readFloats("transformer.h.2.mlp.c_fc.weight", 0, m, 0, 64);
            for (int i = 0; i < 64; i++) {
                assertEquals((a[i] + b[i]) / 2, m[i], 1e-3, "element " + i);
                assertNotEquals(a[i], m[i]);
            }
        }
    }

    /**
     * GPT-2's head beside the two spellings of its embedding: mergekit's gpt2 definition gives the
     * head {@code transformer.wte.weight} and {@code wte.weight} as tied names, not aliases. A tied
     * reference as the Hub spells it beside an untied transformers save: the output has no head,
     * and the embedding mixes the two embeddings (not the other's head); an untied reference beside
     * a tied save: the head mixes the reference's head and the other's embedding.
     */
    @Test
    void gpt2sHeadIsNoSpellingOfItsEmbedding(@TempDir Path out) throws IOException {
        Path hubTied = gpt2(out.resolve("hub-tied"), "", 0, false);
        Path savedUntied = gpt2(out.resolve("saved-untied"), "transformer.", 1000, true);
        Path hubUntied = gpt2(out.resolve("hub-untied"), "", 0, true);
        Path savedTied = gpt2(out.resolve("saved-tied"), "transformer.", 1000, false);
        String linear = """
                merge_method: linear
                models:
                  - {model: %s, parameters: {weight: 0.5}}
                  - {model: %s, parameters: {weight: 0.5}}
                """;
        Path tiedOut = out.resolve("tied-out");
        MergeJob.run(request(linear.formatted(hubTied, savedUntied), tiedOut), executor(1), CONF);
        Path untiedOut = out.resolve("untied-out");
        MergeJob.run(request(linear.formatted(hubUntied, savedTied), untiedOut), executor(1), CONF);
        try (Checkpoint a = Checkpoint.open(hubTied.toString(), CONF);
                Checkpoint b = Checkpoint.open(savedUntied.toString(), CONF);
                Checkpoint c = Checkpoint.open(hubUntied.toString(), CONF);
                Checkpoint d = Checkpoint.open(savedTied.toString(), CONF);
                Checkpoint tied = Checkpoint.open(tiedOut.toString(), CONF);
                Checkpoint untied = Checkpoint.open(untiedOut.toString(), CONF)) {
            assertFalse(tied.contains("lm_head.weight"), tied.tensorNames().toString());
            assertMean(a, "wte.weight", b, "transformer.wte.weight", tied, "wte.weight");
            assertMean(c, "lm_head.weight", d, "transformer.wte.weight", untied, "lm_head.weight");
            assertMean(c, "wte.weight", d, "transformer.wte.weight", untied, "wte.weight");
        }
    }

    /** The passthrough stack of {@code first}'s layers [0, 2) and {@code second}'s [1, 3), written to {@code dir}. */
    private static Path stack(Path first, Path second, Path dir) {
        MergeJob.run(request("""
                merge_method: passthrough
                slices:
                  - sources: [{model: %s, layer_range: [0, 2]}]
                  - sources: [{model: %s, layer_range: [1, 3]}]
                """.formatted(first, second), dir), executor(1), CONF);
        return dir;
    }

    /** {@code merged}'s {@code name} is the mean of {@code x}'s {@code xName} and {@code y}'s {@code yName}. */
    private static void assertMean(Checkpoint x, String xName, Checkpoint y, String yName, Checkpoint merged,
            String name) {
        int n = Math.toIntExact(merged.info(name).numElements());
        float[] a = new float[n];
        float[] b = new float[n];
        float[] m = new float[n];
        x.readFloats(xName, 0, a, 0, n);
        y.readFloats(yName, 0, b, 0, n);
        merged.readFloats(name, 0, m, 0, n);
        for (int i = 0; i < n; i++) {
            assertEquals((a[i] + b[i]) / 2, m[i], 1e-3, name + " element " + i);
        }
    }

    /**
     * mergekit's {@code test_gpt2_stack}: a GPT-2 config counts its layers by {@code n_layer}, which
     * the stack must set (mergekit sets its architecture's {@code num_layers_config_key}); a
     * {@code num_hidden_layers} beside a stale {@code n_layer} would leave other loaders the wrong
     * count. The layers are stacked and renumbered under {@code transformer.h.}.
     */
    @Test
    void aGpt2StackSetsTheFamilysLayerCount(@TempDir Path out) throws IOException {
        Path gpt2 = gpt2(out.resolve("gpt2"), "transformer.", 0);
        Path dir = out.resolve("stack");
        MergeJob.run(request("""
                merge_method: passthrough
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 3]}]
                  - sources: [{model: %1$s, layer_range: [1, 3]}]
                """.formatted(gpt2), dir), executor(1), CONF);
        JsonNode merged = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(5, merged.get("n_layer").asInt());
        assertFalse(merged.has("num_hidden_layers"), merged.toString());
        try (Checkpoint in = Checkpoint.open(gpt2.toString(), CONF);
                Checkpoint stacked = Checkpoint.open(dir.toString(), CONF)) {
            assertEquals(4 + 12 * 5, stacked.tensorNames().size());
            assertArrayEquals(raw(in, "transformer.h.1.attn.c_attn.weight"),
                    raw(stacked, "transformer.h.3.attn.c_attn.weight"));
            assertArrayEquals(raw(in, "transformer.h.2.ln_1.weight"), raw(stacked, "transformer.h.4.ln_1.weight"));
        }
    }

    /**
     * GPT-NeoX (Pythia) names its output head {@code embed_out.weight}: mergekit's architecture lists
     * it among the post-layer weights, which come from the last slice's sources; its input
     * embedding {@code gpt_neox.embed_in.weight} from the first's. Taken for an input embedding by
     * its name, the head came from the first slice.
     */
    @Test
    void gptNeoxsOutputHeadComesFromTheLastSlice(@TempDir Path out) throws IOException {
        Path first = gptNeox(out.resolve("neox-a"), 1);
        Path second = gptNeox(out.resolve("neox-b"), 2);
        Path dir = stack(first, second, out.resolve("stack"));
        try (Checkpoint a = Checkpoint.open(first.toString(), CONF); Checkpoint b = Checkpoint.open(second.toString(), CONF);
                Checkpoint stacked = Checkpoint.open(dir.toString(), CONF)) {
            assertArrayEquals(raw(a, "gpt_neox.embed_in.weight"), raw(stacked, "gpt_neox.embed_in.weight"));
            assertArrayEquals(raw(b, "embed_out.weight"), raw(stacked, "embed_out.weight"));
            assertArrayEquals(raw(b, "gpt_neox.final_layer_norm.weight"), raw(stacked, "gpt_neox.final_layer_norm.weight"));
            assertArrayEquals(raw(b, "gpt_neox.layers.2.mlp.dense_h_to_4h.weight"),
                    raw(stacked, "gpt_neox.layers.3.mlp.dense_h_to_4h.weight"));
        }
    }

    /** A 3-layer GPT-NeoX-shaped checkpoint whose values depend on {@code seed}. */
    private static Path gptNeox(Path dir, int seed) throws IOException {
        ObjectNode config = Mappers.JSON.createObjectNode().put("model_type", "gpt_neox").put("num_hidden_layers", 3)
                .put("hidden_size", 4).put("vocab_size", 8);
        config.putArray("architectures").add("GPTNeoXForCausalLM");
        // Every weight mergekit's gpt-neox definition requires (Pythia's checkpoints hold the attention's
        // bias and masked_bias buffers too), but the rotary inv_freq, which Mergeval does not read.
        List<TensorInfo> tensors = new java.util.ArrayList<>();
        tensors.add(new TensorInfo("gpt_neox.embed_in.weight", DType.F32, new long[] {8, 4}));
        Map<String, long[]> layer = new java.util.LinkedHashMap<>();
        layer.put("input_layernorm.weight", new long[] {4});
        layer.put("input_layernorm.bias", new long[] {4});
        layer.put("post_attention_layernorm.weight", new long[] {4});
        layer.put("post_attention_layernorm.bias", new long[] {4});
        layer.put("attention.bias", new long[] {1, 1, 4, 4});
        layer.put("attention.masked_bias", new long[] {1});
        layer.put("attention.query_key_value.weight", new long[] {12, 4});
        layer.put("attention.query_key_value.bias", new long[] {12});
        layer.put("attention.dense.weight", new long[] {4, 4});
        layer.put("attention.dense.bias", new long[] {4});
        layer.put("mlp.dense_h_to_4h.weight", new long[] {16, 4});
        layer.put("mlp.dense_h_to_4h.bias", new long[] {16});
        layer.put("mlp.dense_4h_to_h.weight", new long[] {4, 16});
        layer.put("mlp.dense_4h_to_h.bias", new long[] {4});
        for (int i = 0; i < 3; i++) {
            for (Map.Entry<String, long[]> w : layer.entrySet()) {
                tensors.add(new TensorInfo("gpt_neox.layers." + i + "." + w.getKey(), DType.F32, w.getValue()));
            }
        }
        tensors.add(new TensorInfo("gpt_neox.final_layer_norm.weight", DType.F32, new long[] {4}));
        tensors.add(new TensorInfo("gpt_neox.final_layer_norm.bias", DType.F32, new long[] {4}));
        tensors.add(new TensorInfo("embed_out.weight", DType.F32, new long[] {8, 4}));
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), config, tensors, t -> {
            float[] v = new float[Math.toIntExact(t.numElements())];
            for (int j = 0; j < v.length; j++) {
                v[j] = seed * 1000 + t.name().hashCode() % 97 + j;
            }
            return v;
        }, Long.MAX_VALUE, Map.of());
        return dir;
    }

    /** A model with a second stack of layers (a vision encoder's) is refused, naming both stacks. */
    @Test
    void aModelWithTwoStacksOfLayersIsBadInput(@TempDir Path out) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false);
        List<TensorInfo> tensors = new java.util.ArrayList<>(SyntheticModels.tensors(config, DType.BF16));
        tensors.add(new TensorInfo("vision_tower.encoder.layers.0.fc.weight", DType.BF16, new long[] {4, 4}));
        Path multimodal = out.resolve("mm");
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(multimodal), config, tensors,
                t -> new float[Math.toIntExact(t.numElements())], Long.MAX_VALUE, Map.of());
        Path dir = out.resolve("bad");
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(frankenmerge().replace(b, multimodal.toString()), dir), executor(1), CONF));
        assertEquals("test.yaml: slices: model '" + multimodal + "' has 2 stacks of layers [model.layers.,"
                + " vision_tower.encoder.layers.] (a multimodal model?), which layer ranges would mix; merge it with"
                + " models:, or with modules: where mergekit defines its modules", e.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
    }

    static byte[] raw(Checkpoint c, String name) {
        return c.readRaw(name, 0, Math.toIntExact(c.info(name).byteLength()));
    }

    static MergeJob.Request request(String yaml, Path out) {
        return new MergeJob.Request("test.yaml", yaml, out.toString(), 0, false, PlanOptions.defaults());
    }

    static LocalMergeExecutor executor(int threads) {
        return new LocalMergeExecutor(threads, CONF, Progress.NONE);
    }
}
