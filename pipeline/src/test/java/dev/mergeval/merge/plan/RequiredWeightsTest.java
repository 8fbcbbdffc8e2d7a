package dev.mergeval.merge.plan;

import static dev.mergeval.merge.plan.SlicesMergeTest.executor;
import static dev.mergeval.merge.plan.SlicesMergeTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model that lacks a weight mergekit's definition of its architecture requires (mergekit:
 * "Tensor X required but not present in model M") is refused at planning, naming the model, the
 * tensor and its entry in the config, where the merge would read the weight from it; before, a
 * frankenmerge or a one-model merge wrote an output without the tensor. Tiny 4-layer Llamas.
 */
class RequiredWeightsTest {

    private static final Configuration CONF = new Configuration();
    private static final String UP_2 = "model.layers.2.mlp.up_proj.weight";
    private static final String EMBED = "model.embed_tokens.weight";

    @TempDir
    static Path models;

    /** Complete. */
    static String a;
    /** Without layer 2's up projection. */
    static String noUp2;
    /** Without the token embedding. */
    static String noEmbed;

    @BeforeAll
    static void writeModels() {
        ObjectNode config = untied();
        a = TinyModels.write(models.resolve("a"), config, DType.BF16, 1, Long.MAX_VALUE).toString();
        noUp2 = TinyModels.write(models.resolve("no-up2"), config, DType.BF16, 2, Long.MAX_VALUE,
                name -> !name.equals(UP_2)).toString();
        noEmbed = TinyModels.write(models.resolve("no-embed"), config, DType.BF16, 3, Long.MAX_VALUE,
                name -> !name.equals(EMBED)).toString();
    }

    private static ObjectNode untied() {
        return TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false);
    }

    private static String frankenmerge(String first, String second) {
        return """
                merge_method: passthrough
                slices:
                  - sources: [{model: %s, layer_range: [0, 2]}]
                  - sources: [{model: %s, layer_range: [2, 4]}]
                """.formatted(first, second);
    }

    /** Merges {@code yaml} into {@code dir}, expecting bad input; checks nothing was published. */
    private static String refused(String yaml, Path dir) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, dir), executor(1), CONF));
        assertFalse(Files.exists(dir), "nothing published");
        return e.getMessage();
    }

    @Test
    void aSingleSourceSliceWhoseModelLacksALayerTensorIsRefused(@TempDir Path out) {
        assertEquals("test.yaml: slices[1].sources[0]: model '" + noUp2 + "' has no tensor " + UP_2
                + ", which mergekit's llama definition requires (layer 2)",
                refused(frankenmerge(a, noUp2), out.resolve("bad")));
        // Its layers 0 and 1 are whole: a slice of them takes nothing it lacks.
        Path ok = out.resolve("ok");
        MergeJob.run(request("""
                merge_method: passthrough
                slices:
                  - sources: [{model: %s, layer_range: [0, 2]}]
                  - sources: [{model: %s, layer_range: [0, 2]}]
                """.formatted(a, noUp2), ok), executor(1), CONF);
        try (Checkpoint merged = Checkpoint.open(ok.toString(), CONF)) {
            assertTrue(merged.contains("model.layers.3.mlp.up_proj.weight"), merged.tensorNames().toString());
        }
    }

    @Test
    void theFirstSlicesModelMustHoldTheEmbedding(@TempDir Path out) {
        assertEquals("test.yaml: slices[0].sources[0]: model '" + noEmbed + "' has no tensor " + EMBED
                + ", which mergekit's llama definition requires (before the layers)",
                refused(frankenmerge(noEmbed, a), out.resolve("bad")));
        // From the last slice only its layers and the final norm and head are read.
        Path ok = out.resolve("ok");
        MergeJob.run(request(frankenmerge(a, noEmbed), ok), executor(1), CONF);
        try (Checkpoint merged = Checkpoint.open(ok.toString(), CONF)) {
            assertTrue(merged.contains(EMBED), merged.tensorNames().toString());
        }
    }

    @Test
    void aOneModelMergeOfAnIncompleteModelIsRefused(@TempDir Path out) {
        String yaml = """
                merge_method: passthrough
                models:
                  - model: %s
                """;
        assertEquals("test.yaml: models[0]: model '" + noUp2 + "' has no tensor " + UP_2
                + ", which mergekit's llama definition requires (layer 2)",
                refused(yaml.formatted(noUp2), out.resolve("bad")));
        String message = refused(yaml.formatted(noEmbed), out.resolve("bad-embed"));
        assertTrue(message.startsWith("test.yaml: models[0]: model '" + noEmbed + "' has no tensor " + EMBED),
                message);
    }

    /** Every missing tensor is counted, the first named. */
    @Test
    void aModelLackingSeveralIsRefusedForTheFirst(@TempDir Path out) {
        String partial = TinyModels.write(out.resolve("partial"), untied(), DType.BF16, 4, Long.MAX_VALUE,
                name -> !name.endsWith("mlp.up_proj.weight")).toString();
        assertEquals("test.yaml: slices[1].sources[0]: model '" + partial + "' has no tensor " + UP_2
                + ", which mergekit's llama definition requires (layer 2); 1 more required tensor is missing",
                refused(frankenmerge(a, partial), out.resolve("bad")));
    }

    /** A merge loaded as a model source ({@code merge:CONFIG}) is refused the same way. */
    @Test
    void aMergeLoadedOnTheFlyIsRefusedToo(@TempDir Path out) throws IOException {
        Path conf = out.resolve("franken.yaml");
        Files.writeString(conf, frankenmerge(a, noUp2));
        BadInputException e = assertThrows(BadInputException.class,
                () -> ModelSources.load(ModelSource.parse("merge:" + conf, CONF), CONF, RuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("slices[1].sources[0]: model '" + noUp2 + "' has no tensor " + UP_2),
                e.getMessage());
    }

    /**
     * An optional weight may be absent: a model with tied embeddings stores no {@code lm_head.weight}
     * (optional in mergekit's llama definition, read through its tied name, the embedding).
     */
    @Test
    void aTiedModelWithoutAHeadMerges(@TempDir Path out) {
        ObjectNode tied = TinyModels.llamaConfig().put("num_hidden_layers", 4);
        String t = TinyModels.write(out.resolve("tied"), tied, DType.BF16, 5, Long.MAX_VALUE).toString();
        try (Checkpoint model = Checkpoint.open(t, CONF)) {
            assertFalse(model.contains("lm_head.weight"), model.tensorNames().toString());
        }
        MergeJob.run(request(frankenmerge(t, t), out.resolve("franken")), executor(1), CONF);
        MergeJob.run(request("merge_method: passthrough\nmodels: [{model: %s}]\n".formatted(t), out.resolve("one")),
                executor(1), CONF);
        MergeJob.run(request(frankenmerge(t, a), out.resolve("tied-first")), executor(1), CONF);
        MergeJob.run(request(frankenmerge(a, t), out.resolve("tied-last")), executor(1), CONF);
    }

    /** A LoRA input ({@code BASE+ADAPTER}) holds its base's tensors. */
    @Test
    void aLoraInputIsCheckedByItsBase(@TempDir Path out) throws IOException {
        Path adapter = adapter(out.resolve("adapter"), a);
        String yaml = "merge_method: passthrough\nmodels: [{model: %s}]\n";
        MergeJob.run(request(yaml.formatted(a + "+" + adapter), out.resolve("ok")), executor(1), CONF);
        String lora = noUp2 + "+" + adapter;
        assertEquals("test.yaml: models[0]: model '" + lora + "' has no tensor " + UP_2
                + ", which mergekit's llama definition requires (layer 2)",
                refused(yaml.formatted(lora), out.resolve("bad")));
    }

    /** A rank-1 adapter of every {@code q_proj} of {@code base}. */
    private static Path adapter(Path dir, String base) throws IOException {
        return MergeJobTest.qProjAdapter(dir, base, 0f, 0f);
    }

    /**
     * mergekit's mixtral definition names each layer's experts as transformers 5 fuses them
     * ({@code mlp.experts.gate_up_proj}, {@code mlp.experts.down_proj}, {@code mlp.gate.weight}) and
     * its loader assembles them from a checkpoint's per-expert tensors: those count, and a layer
     * whose experts lack one of the two halves does not.
     */
    @Test
    void aMixtralHoldsItsFusedExpertsAsOneTensorPerExpert(@TempDir Path out) throws IOException {
        Path whole = mixtral(out.resolve("mixtral"), name -> true);
        MergeJob.run(request("merge_method: passthrough\nmodels: [{model: %s}]\n".formatted(whole),
                out.resolve("ok")), executor(1), CONF);
        Path noW3 = mixtral(out.resolve("no-w3"), name -> !name.matches("model\\.layers\\.1\\..*\\.w3\\.weight"));
        assertEquals("test.yaml: models[0]: model '" + noW3 + "' has no tensor model.layers.1.mlp.experts.gate_up_proj,"
                + " which mergekit's mixtral definition requires (layer 1)",
                refused("merge_method: passthrough\nmodels: [{model: %s}]\n".formatted(noW3), out.resolve("bad")));
    }

    /** A two-layer, two-expert Mixtral as checkpoints store it, with the tensors {@code keep} accepts. */
    private static Path mixtral(Path dir, Predicate<String> keep) throws IOException {
        ObjectNode config = Mappers.JSON.createObjectNode().put("model_type", "mixtral").put("num_hidden_layers", 2)
                .put("hidden_size", 4).put("vocab_size", 8).put("num_local_experts", 2);
        config.putArray("architectures").add("MixtralForCausalLM");
        List<TensorInfo> tensors = new ArrayList<>();
        tensors.add(new TensorInfo("model.embed_tokens.weight", DType.F32, new long[] {8, 4}));
        for (int i = 0; i < 2; i++) {
            String layer = "model.layers." + i + ".";
            for (String norm : List.of("input_layernorm", "post_attention_layernorm")) {
                tensors.add(new TensorInfo(layer + norm + ".weight", DType.F32, new long[] {4}));
            }
            for (String proj : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                tensors.add(new TensorInfo(layer + "self_attn." + proj + ".weight", DType.F32, new long[] {4, 4}));
            }
            tensors.add(new TensorInfo(layer + "block_sparse_moe.gate.weight", DType.F32, new long[] {2, 4}));
            for (int e = 0; e < 2; e++) {
                for (String w : List.of("w1", "w2", "w3")) {
                    tensors.add(new TensorInfo(layer + "block_sparse_moe.experts." + e + "." + w + ".weight", DType.F32,
                            new long[] {4, 4}));
                }
            }
        }
        tensors.add(new TensorInfo("model.norm.weight", DType.F32, new long[] {4}));
        tensors.add(new TensorInfo("lm_head.weight", DType.F32, new long[] {8, 4}));
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), config,
                tensors.stream().filter(t -> keep.test(t.name())).toList(),
                t -> new float[Math.toIntExact(t.numElements())], Long.MAX_VALUE, Map.of());
        return dir;
    }
}
