package dev.mergeval.merge.plan;

import static dev.mergeval.merge.plan.SlicesMergeTest.executor;
import static dev.mergeval.merge.plan.SlicesMergeTest.raw;
import static dev.mergeval.merge.plan.SlicesMergeTest.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code modules:} merges of generated vision-language checkpoints laid out as mergekit's
 * {@code mistral3} definition names them (a text decoder of four layers under
 * {@code language_model.}, a vision tower of three under {@code vision_tower.}, a projector under
 * {@code multi_modal_projector.}): each module merged by its own models and parameters, a module's
 * slices stacking its own layers only, the config's layer counts per module, and the
 * {@code models:} form byte for byte where every module lists the same models.
 */
class ModulesMergeTest {

    private static final Configuration CONF = new Configuration();
    private static final int TEXT_LAYERS = 4;
    private static final int VISION_LAYERS = 3;

    @TempDir
    static Path models;

    static String a;
    static String b;

    @BeforeAll
    static void writeModels() {
        a = models.resolve("a").toString();
        b = models.resolve("b").toString();
        SyntheticModels.writeVisionLanguage(a, TEXT_LAYERS, VISION_LAYERS, 1, CONF);
        SyntheticModels.writeVisionLanguage(b, TEXT_LAYERS, VISION_LAYERS, 2, CONF);
    }

    private static String linear(double wa, double wb) {
        return "merge_method: linear\nmodels:\n  - {model: %s, parameters: {weight: %s}}\n  - {model: %s, parameters: {weight: %s}}\n"
                .formatted(a, wa, b, wb);
    }

    /**
     * Each module is merged by its own models and weights: every tensor of the text decoder is the
     * {@code models:} merge at 0.3 / 0.7's, the vision tower model A's, the projector the merge at
     * 0.5 / 0.5's: a module's {@code parameters} behind its models' own, before the global ones (no
     * normalization, so the global 0.1 would show).
     */
    @Test
    void eachModuleIsMergedByItsOwnModelsAndParameters(@TempDir Path out) throws IOException {
        String yaml = """
                merge_method: linear
                modules:
                  text_decoder:
                    models:
                      - {model: %1$s, parameters: {weight: 0.3}}
                      - {model: %2$s, parameters: {weight: 0.7}}
                    parameters: {weight: 0.9}
                  vision_tower:
                    models:
                      - {model: %1$s}
                    parameters: {weight: 1.0}
                  multi_modal_projector:
                    models:
                      - {model: %1$s}
                      - {model: %2$s}
                    parameters: {weight: 0.5}
                parameters: {weight: 0.1, normalize: false}
                """.formatted(a, b);
        Path dir = out.resolve("modules");
        MergeJob.run(request(yaml, dir), executor(2), CONF);
        Path text = out.resolve("text");
        Path half = out.resolve("half");
        MergeJob.run(request(linear(0.3, 0.7), text), executor(1), CONF);
        MergeJob.run(request(linear(0.5, 0.5), half), executor(1), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mt = Checkpoint.open(text.toString(), CONF);
                Checkpoint mh = Checkpoint.open(half.toString(), CONF)) {
            assertEquals(ma.tensorNames(), merged.tensorNames(), "every tensor, in the reference's order");
            for (String name : merged.tensorNames()) {
                Checkpoint expected = name.startsWith("language_model.") ? mt : name.startsWith("vision_tower.") ? ma : mh;
                assertArrayEquals(raw(expected, name), raw(merged, name), name + " <- " + expected.location());
            }
        }
        JsonNode provenance = Mappers.JSON.readTree(dir.resolve(OutputPublisher.PROVENANCE_FILE).toFile());
        assertTrue(provenance.get("config").asText().contains("modules:"), provenance.get("config").asText());
        assertEquals("vision_tower", provenance.at("/plan/layers/" + TEXT_LAYERS + "/module").asText());
        assertEquals(TEXT_LAYERS, provenance.at("/plan/num_layers").asInt(), "the decoder's layers");
    }

    /**
     * A module's slices stack its own layers: the text decoder A[0, 2) then B[1, 4) (five layers,
     * renumbered from 0; its embedding from A, its norm and head from B), the vision tower and the
     * projector A's; {@code text_config.num_hidden_layers} becomes 5, the vision tower's count stays 3.
     */
    @Test
    void aModulesSlicesStackItsOwnLayers(@TempDir Path out) throws IOException {
        String yaml = """
                merge_method: passthrough
                modules:
                  text_decoder:
                    slices:
                      - sources: [{model: %1$s, layer_range: [0, 2]}]
                      - sources: [{model: %2$s, layer_range: [1, 4]}]
                  vision_tower:
                    models: [{model: %1$s}]
                  multi_modal_projector:
                    models: [{model: %1$s}]
                """.formatted(a, b);
        Path dir = out.resolve("franken");
        MergeJob.run(request(yaml, dir), executor(2), CONF);
        List<Object[]> textFrom = List.of(new Object[] {a, 0}, new Object[] {a, 1}, new Object[] {b, 1},
                new Object[] {b, 2}, new Object[] {b, 3});
        String textLayer = "language_model.model.layers.";
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mb = Checkpoint.open(b, CONF)) {
            int textTensors = 0;
            for (String name : merged.tensorNames()) {
                Checkpoint source = ma;
                String input = name;
                if (name.startsWith(textLayer)) {
                    int k = Integer.parseInt(name.substring(textLayer.length(), name.indexOf('.', textLayer.length())));
                    source = textFrom.get(k)[0].equals(a) ? ma : mb;
                    input = textLayer + textFrom.get(k)[1] + name.substring(name.indexOf('.', textLayer.length()));
                    textTensors++;
                } else if (name.equals("language_model.model.norm.weight") || name.equals("language_model.lm_head.weight")) {
                    source = mb;
                }
                assertArrayEquals(raw(source, input), raw(merged, name), name + " <- " + source.location() + " " + input);
            }
            assertEquals(5 * 3, textTensors);
            assertEquals(ma.tensorNames().size() + 3, merged.tensorNames().size());
        }
        JsonNode config = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(5, config.at("/text_config/num_hidden_layers").asInt());
        assertEquals(VISION_LAYERS, config.at("/vision_config/num_hidden_layers").asInt());
        assertNull(config.get("num_hidden_layers"), "no top-level count added: " + config);
    }

    /**
     * mergekit makes a {@code models:} config into modules that each list the same models, so with
     * gradients (SLERP, {@code t: [0, 0.3, 1]}, run over each module's own layers) the two forms give
     * the same bytes.
     */
    @Test
    void modulesListingTheSameModelsAreTheModelsFormByteForByte(@TempDir Path out) throws IOException {
        String module = "    models: [{model: %1$s}, {model: %2$s}]\n";
        String modules = ("merge_method: slerp\nbase_model: %1$s\nparameters: {t: [0, 0.3, 1]}\nmodules:\n"
                + "  text_decoder:\n" + module + "  vision_tower:\n" + module + "  multi_modal_projector:\n" + module)
                .formatted(a, b);
        String plain = "merge_method: slerp\nbase_model: %1$s\nparameters: {t: [0, 0.3, 1]}\nmodels:\n  - model: %1$s\n  - model: %2$s\n"
                .formatted(a, b);
        Path viaModules = out.resolve("modules");
        Path viaModels = out.resolve("models");
        MergeJob.run(request(modules, viaModules), executor(2), CONF);
        MergeJob.run(request(plain, viaModels), executor(1), CONF);
        Map<String, String> hashes = MergeJobTest.shardHashes(viaModels, false);
        assertFalse(hashes.isEmpty());
        assertEquals(hashes, MergeJobTest.shardHashes(viaModules, false));
        assertEquals(Files.readString(viaModels.resolve("config.json")), Files.readString(viaModules.resolve("config.json")));
    }

    /** A module the models do not have, or one of theirs left out, is bad input naming it; nothing is written. */
    @Test
    void theModulesMustBeTheModelsModules(@TempDir Path out) {
        String textOnly = """
                merge_method: linear
                modules:
                  text_decoder:
                    models: [{model: %s, parameters: {weight: 1.0}}]
                """.formatted(a);
        Path dir = out.resolve("bad");
        BadInputException missing = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(textOnly, dir), executor(1), CONF));
        assertEquals("test.yaml: modules: model '" + a + "' (Mistral3ForConditionalGeneration) has modules"
                + " text_decoder, multi_modal_projector, vision_tower; list multi_modal_projector, vision_tower too"
                + " (mergekit would write none of their tensors, an output no loader takes)", missing.getMessage());
        BadInputException unknown = assertThrows(BadInputException.class, () -> MergeJob.run(request(
                textOnly.replace("text_decoder", "audio_tower"), dir), executor(1), CONF));
        assertTrue(unknown.getMessage().startsWith("test.yaml: modules.audio_tower: model '" + a
                + "' (Mistral3ForConditionalGeneration) has no module 'audio_tower'; its modules: text_decoder,"), unknown.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
    }

    /**
     * A model mergekit defines by one module (a Llama) has the module {@code default}: its slices
     * are the {@code slices:} form byte for byte, and another module's name is bad input.
     */
    @Test
    void aModelOfOneModuleHasTheModuleDefault(@TempDir Path out) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", 4).put("tie_word_embeddings", false);
        String x = TinyModels.write(out.resolve("x"), config, DType.BF16, 1, Long.MAX_VALUE).toString();
        String y = TinyModels.write(out.resolve("y"), config, DType.BF16, 2, Long.MAX_VALUE).toString();
        String slices = """
                  - sources: [{model: %1$s, layer_range: [0, 3]}]
                  - sources: [{model: %2$s, layer_range: [2, 4]}]
                """.formatted(x, y);
        Path viaSlices = out.resolve("slices");
        Path viaModules = out.resolve("modules");
        MergeJob.run(request("merge_method: passthrough\nslices:\n" + slices, viaSlices), executor(1), CONF);
        MergeJob.run(request("merge_method: passthrough\nmodules:\n  default:\n    slices:\n"
                + slices.indent(4), viaModules), executor(2), CONF);
        Map<String, String> hashes = MergeJobTest.shardHashes(viaSlices, false);
        assertFalse(hashes.isEmpty());
        assertEquals(hashes, MergeJobTest.shardHashes(viaModules, false));
        assertEquals(5, Mappers.JSON.readTree(viaModules.resolve("config.json").toFile()).get("num_hidden_layers").asInt());
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(request(
                "merge_method: passthrough\nmodules:\n  text_decoder:\n    models: [{model: " + x + "}]\n",
                out.resolve("bad")), executor(1), CONF));
        assertEquals("test.yaml: modules.text_decoder: model '" + x + "' (LlamaForCausalLM) has no module"
                + " 'text_decoder'; its modules: default", e.getMessage());
    }

    /** A layer range beyond a module's layers names the module's slice and its layer count. */
    @Test
    void aLayerRangeBeyondTheModuleNamesIt(@TempDir Path out) {
        String yaml = """
                merge_method: passthrough
                modules:
                  text_decoder:
                    models: [{model: %1$s}]
                  vision_tower:
                    slices:
                      - sources: [{model: %1$s, layer_range: [0, 4]}]
                  multi_modal_projector:
                    models: [{model: %1$s}]
                """.formatted(a);
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, out.resolve("bad")), executor(1), CONF));
        assertEquals("test.yaml: modules.vision_tower.slices[0].sources[0].layer_range: [0, 4) is outside model '" + a
                + "', which has 3 layers [0, 3) in module vision_tower", e.getMessage());
    }
}
