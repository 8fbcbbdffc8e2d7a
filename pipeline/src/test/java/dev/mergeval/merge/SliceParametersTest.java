package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A slice as the {@code models:} config that merges it ({@link MergeConfig#forSlice}): its models,
 * its base, and the scopes of mergekit's {@code ConfigReader.parameter} (a source's own setting,
 * then the slice's, then the global one, a filter list that matches nothing falling through).
 */
class SliceParametersTest {

    private static final String YAML = """
            merge_method: ties
            base_model: b
            slices:
              - sources:
                  - {model: a, layer_range: [2, 4], parameters: {weight: 1}}
                  - {model: b, layer_range: [0, 2]}
                parameters: {density: [{filter: mlp, value: 0.3}], normalize: false}
              - sources:
                  - {model: c, layer_range: [0, 1], parameters: {weight: [{filter: mlp, value: 2}]}}
                  - {model: b, layer_range: [3, 4]}
            parameters: {weight: 0.5, density: 0.7, normalize: true}
            """;

    @Test
    void aSliceIsTheModelsConfigOfItsSources() {
        MergeConfig config = Merges.config(YAML);
        assertTrue(config.isSliced());
        assertEquals(List.of("b", "a", "c"), config.inputModels());
        assertTrue(config.models().isEmpty());
        MergeConfig first = config.forSlice(0);
        assertFalse(first.isSliced());
        assertEquals(List.of("b", "a"), first.inputModels(), "the base first, as in the models: form");
        assertEquals(List.of("b", "c"), config.forSlice(1).inputModels());
    }

    @Test
    void sourceThenSliceThenGlobalSettings() {
        MergeConfig config = Merges.config(YAML);
        TensorMerger first = TensorMerger.create(config.forSlice(0), 2);
        TensorParams mlp = first.params("model.layers.0.mlp.up_proj.weight");
        Params a = mlp.perModel().get(1);
        assertEquals(1.0, a.number("weight"), "the source's own");
        assertEquals(0.3, a.number("density"), "the slice's filter matches");
        assertFalse(mlp.global().bool("normalize"), "the slice's");
        TensorParams attn = first.params("model.layers.0.self_attn.q_proj.weight");
        assertEquals(0.7, attn.perModel().get(1).number("density"), "the slice's filter misses: the global one");

        TensorMerger second = TensorMerger.create(config.forSlice(1), 2);
        assertEquals(2.0, second.params("model.layers.1.mlp.up_proj.weight").perModel().get(1).number("weight"));
        assertEquals(0.5, second.params("model.layers.1.self_attn.q_proj.weight").perModel().get(1).number("weight"),
                "the source's filter misses: the global one");
        assertTrue(second.params("model.layers.1.mlp.up_proj.weight").global().bool("normalize"));
    }

    @Test
    void layerIndicesAreReplacedInPlace() {
        assertEquals("model.layers.17.mlp.up_proj.weight",
                TensorMerger.withLayerIndex("model.layers.3.mlp.up_proj.weight", 17));
        assertEquals("transformer.h.0.attn.c_attn.weight", TensorMerger.withLayerIndex("transformer.h.12.attn.c_attn.weight", 0));
    }
}
