package dev.mergeval.merge.plan;

import static dev.mergeval.merge.plan.SlicesMergeTest.executor;
import static dev.mergeval.merge.plan.SlicesMergeTest.raw;
import static dev.mergeval.merge.plan.SlicesMergeTest.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models with a multi-token-prediction layer after the last decoder layer, as GLM-4.5 and
 * DeepSeek-V3 hold it ({@code model.layers.46} beside {@code num_hidden_layers: 46} and
 * {@code num_nextn_predict_layers: 1}), here 3 layers and {@code model.layers.3}, written by the test
 * in BF16: every such merge was refused before.
 */
class MultiTokenPredictionMergeTest {

    private static final Configuration CONF = new Configuration();
    private static final int LAYERS = 3;
    private static final String MTP = "model.layers.3.eh_proj.weight";

    @TempDir
    static Path models;

    static String a;
    static String b;
    /** Like {@link #b} without the layer, and its config without the key. */
    static String plain;

    @BeforeAll
    static void writeModels() throws IOException {
        a = write("a", 1, true).toString();
        b = write("b", 2, true).toString();
        plain = write("plain", 3, false).toString();
    }

    private static Path write(String name, int seed, boolean mtp) throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("num_hidden_layers", LAYERS).put("tie_word_embeddings", false);
        List<TensorInfo> tensors = new ArrayList<>(SyntheticModels.tensors(config, DType.BF16));
        if (mtp) {
            config.put("num_nextn_predict_layers", 1);
            int hidden = config.get("hidden_size").asInt();
            int at = tensors.indexOf(tensors.stream().filter(t -> t.name().equals("model.norm.weight")).findFirst()
                    .orElseThrow());
            tensors.addAll(at, List.of(new TensorInfo("model.layers.3.enorm.weight", DType.BF16, new long[] {hidden}),
                    new TensorInfo(MTP, DType.BF16, new long[] {hidden, 2L * hidden}),
                    new TensorInfo("model.layers.3.mlp.up_proj.weight", DType.BF16, new long[] {hidden, hidden})));
        }
        Path dir = models.resolve(name);
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), config, tensors, t -> {
            float[] v = new float[Math.toIntExact(t.numElements())];
            for (int j = 0; j < v.length; j++) {
                v[j] = (float) Math.sin(seed * 7919.0 + t.name().hashCode() + j);
            }
            return v;
        }, Long.MAX_VALUE, Map.of());
        return dir;
    }

    /** A gradient from all of A to all of B: layer 0 is A's, layer 2 and the MTP layer after it B's. */
    private static final String GRADIENT = """
            merge_method: linear
            models:
              - {model: %1$s, parameters: {weight: [1, 0]}}
              - {model: %2$s, parameters: {weight: [0, 1]}}
            """;

    @Test
    void theLayerAfterTheLastMergesAtTheLastLayersPosition(@TempDir Path out) throws IOException {
        Path dir = out.resolve("merged");
        MergeJob.run(request(GRADIENT.formatted(a, b), dir), executor(2), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint ma = Checkpoint.open(a, CONF);
                Checkpoint mb = Checkpoint.open(b, CONF)) {
            assertEquals(ma.tensorNames(), merged.tensorNames());
            for (String name : List.of(MTP, "model.layers.3.enorm.weight", "model.layers.3.mlp.up_proj.weight",
                    "model.layers.2.mlp.up_proj.weight")) {
                assertArrayEquals(raw(mb, name), raw(merged, name), name + " at t = 1");
            }
            assertArrayEquals(raw(ma, "model.layers.0.mlp.up_proj.weight"),
                    raw(merged, "model.layers.0.mlp.up_proj.weight"), "t = 0");
            String middle = "model.layers.1.mlp.up_proj.weight";
            assertFalse(Arrays.equals(raw(ma, middle), raw(merged, middle)), "t = 1/2");
            assertFalse(Arrays.equals(raw(mb, middle), raw(merged, middle)), "t = 1/2");
        }
        JsonNode config = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(LAYERS, config.get("num_hidden_layers").asInt());
        assertEquals(1, config.get("num_nextn_predict_layers").asInt());
    }

    /** The {@code slices:} form over every layer gives the same bytes and config as the {@code models:} form. */
    @Test
    void oneSliceOverEveryLayerKeepsTheLayerAsTheModelsFormDoes(@TempDir Path out) throws IOException {
        Path viaModels = out.resolve("models");
        Path viaSlices = out.resolve("slices");
        MergeJob.run(request(GRADIENT.formatted(a, b), viaModels), executor(2), CONF);
        MergeJob.run(request("""
                merge_method: linear
                slices:
                  - sources:
                      - {model: %1$s, layer_range: [0, 3], parameters: {weight: [1, 0]}}
                      - {model: %2$s, layer_range: [0, 3], parameters: {weight: [0, 1]}}
                """.formatted(a, b), viaSlices), executor(1), CONF);
        Map<String, String> hashes = MergeJobTest.shardHashes(viaModels, false);
        assertFalse(hashes.isEmpty());
        assertEquals(hashes, MergeJobTest.shardHashes(viaSlices, false));
        assertEquals(Files.readString(viaModels.resolve("config.json")), Files.readString(viaSlices.resolve("config.json")));
    }

    /**
     * A frankenmerge (A's layers [0, 2) then B's [1, 3)) keeps the last slice's MTP layer after its
     * four layers, renumbered to 4, as the layer it reads from is B's last.
     */
    @Test
    void aFrankenmergeKeepsTheLastSlicesLayerAfterItsOwn(@TempDir Path out) throws IOException {
        Path dir = out.resolve("franken");
        MergeJob.run(request(franken(b), dir), executor(2), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF); Checkpoint mb = Checkpoint.open(b, CONF)) {
            assertArrayEquals(raw(mb, MTP), raw(merged, "model.layers.4.eh_proj.weight"));
            assertArrayEquals(raw(mb, "model.layers.2.mlp.up_proj.weight"), raw(merged, "model.layers.3.mlp.up_proj.weight"));
            List<String> names = merged.tensorNames();
            assertEquals(List.of("model.layers.4.enorm.weight", "model.layers.4.eh_proj.weight",
                    "model.layers.4.mlp.up_proj.weight", "model.norm.weight"),
                    names.subList(names.indexOf("model.layers.4.enorm.weight"), names.indexOf("model.norm.weight") + 1),
                    "after the last layer, in the source's order: " + names);
        }
        JsonNode config = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(4, config.get("num_hidden_layers").asInt());
        assertEquals(1, config.get("num_nextn_predict_layers").asInt());
    }

    /**
     * Where a source of the last slice has no such layer, the output has none either (as mergekit's
     * outputs), and says so in its config.
     */
    @Test
    void aLastSliceWithoutTheLayerWritesNone(@TempDir Path out) throws IOException {
        Path dir = out.resolve("franken");
        MergeJob.run(request(franken(plain), dir), executor(1), CONF);
        try (Checkpoint merged = Checkpoint.open(dir.toString(), CONF)) {
            assertTrue(merged.tensorNames().stream().noneMatch(n -> n.startsWith("model.layers.4.")), merged.tensorNames()
                    .toString());
        }
        JsonNode config = Mappers.JSON.readTree(dir.resolve("config.json").toFile());
        assertEquals(0, config.get("num_nextn_predict_layers").asInt(), "A's config, with the layers there are");
    }

    /** A layer past the count that the config does not declare is still refused, naming it; nothing is published. */
    @Test
    void anUndeclaredLayerPastTheCountIsBadInput(@TempDir Path out) throws IOException {
        Path undeclared = out.resolve("undeclared");
        Files.createDirectories(undeclared);
        try (var files = Files.list(Path.of(b))) {
            for (Path f : files.toList()) {
                Files.copy(f, undeclared.resolve(f.getFileName()));
            }
        }
        ObjectNode config = (ObjectNode) Mappers.JSON.readTree(undeclared.resolve("config.json").toFile());
        config.remove("num_nextn_predict_layers");
        Files.writeString(undeclared.resolve("config.json"), config.toString());
        Path dir = out.resolve("bad");
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(GRADIENT.formatted(undeclared, a), dir), executor(1), CONF));
        assertTrue(e.getMessage().contains("its config.json counts 3 layers, but it holds 'model.layers.3."),
                e.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
    }

    private static String franken(String last) {
        return """
                merge_method: passthrough
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}]
                  - sources: [{model: %2$s, layer_range: [1, 3]}]
                """.formatted(a, last);
    }
}
