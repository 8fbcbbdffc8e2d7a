package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Gradients over layers, name filters and scope precedence, as mergekit's ConfigReader. */
class ParameterResolutionTest {

    @Test
    void layerIndexParsesCommonLayouts() {
        assertEquals(12, TensorMerger.layerIndex("model.layers.12.mlp.up_proj.weight"));
        assertEquals(0, TensorMerger.layerIndex("transformer.h.0.attn.c_attn.weight"));
        assertEquals(3, TensorMerger.layerIndex("blocks.3.norm.weight"));
        assertEquals(-1, TensorMerger.layerIndex("model.embed_tokens.weight"));
        assertEquals(-1, TensorMerger.layerIndex("lm_head.weight"));
        assertEquals(-1, TensorMerger.layerIndex("model.norm.weight"));
        // T5's blocks hold numbered sub-layers: the block is the layer, encoder and decoder each a stack.
        assertEquals(3, TensorMerger.layerIndex("encoder.block.3.layer.1.DenseReluDense.wi.weight"));
        assertEquals("decoder.block.", TensorMerger.layerStack("decoder.block.5.layer.2.DenseReluDense.wo.weight"));
        assertEquals(2, TensorMerger.layerIndex("model.layers.2.block_sparse_moe.experts.7.w1.weight"));
    }

    @Test
    void gradientPositionFollowsMergekitPlanner() {
        TensorMerger m = TensorMerger.create(Merges.config("merge_method: passthrough\nmodels: [{model: a}]"), 5);
        assertEquals(0.0, m.gradientPosition("model.embed_tokens.weight"));
        assertEquals(0.0, m.gradientPosition("model.layers.0.self_attn.q_proj.weight"));
        assertEquals(0.25, m.gradientPosition("model.layers.1.self_attn.q_proj.weight"));
        assertEquals(1.0, m.gradientPosition("model.layers.4.mlp.down_proj.weight"));
        // After the layers, but at mergekit's t = 0 (its module-level config reader, since v0.1.2).
        assertEquals(0.0, m.gradientPosition("model.norm.weight"));
        assertEquals(0.0, m.gradientPosition("lm_head.weight"));
        TensorMerger one = TensorMerger.create(Merges.config("merge_method: passthrough\nmodels: [{model: a}]"), 1);
        assertEquals(1.0, one.gradientPosition("model.layers.0.mlp.down_proj.weight"));
        assertThrows(BadInputException.class, () -> m.gradientPosition("model.layers.5.mlp.down_proj.weight"));
    }

    /**
     * A vision-language model (Qwen2-VL's layout: 28 decoder layers, 32 vision blocks, here 2 and 4)
     * places each stack's layers by its own count, as mergekit plans each module; with the decoder's
     * count for both, the vision blocks past it were refused and every merge of such a model failed.
     */
    @Test
    void eachStackOfLayersHasItsOwnCount() {
        List<String> names = List.of("model.embed_tokens.weight", "model.layers.0.q.weight", "model.layers.1.q.weight",
                "visual.blocks.0.qkv.weight", "visual.blocks.1.qkv.weight", "visual.blocks.2.qkv.weight",
                "visual.blocks.3.qkv.weight", "lm_head.weight");
        LayerPositions positions = LayerPositions.of(2, 0, names);
        assertEquals(Map.of("model.layers.", 2, "visual.blocks.", 4), positions.stacks());
        TensorMerger vl = TensorMerger.create(Merges.config("merge_method: passthrough\nmodels: [{model: a}]"),
                positions, PlanAnalysis.NONE, Map.of(), null);
        assertEquals(1.0, vl.gradientPosition("model.layers.1.q.weight"));
        assertEquals(1.0 / 3, vl.gradientPosition("visual.blocks.1.qkv.weight"));
        assertEquals(1.0, vl.gradientPosition("visual.blocks.3.qkv.weight"));
        assertEquals(0.0, vl.gradientPosition("lm_head.weight"));
        assertEquals(Map.of(), LayerPositions.of(2, 0, names.subList(0, 3)).stacks(), "one stack: the config's count");
    }

    /**
     * GLM-4.5's and DeepSeek-V3's multi-token-prediction layers follow the last decoder layer in
     * the same stack ({@code model.layers.46} of 46 layers, {@code num_nextn_predict_layers: 1}):
     * each is at the last layer's position, and the decoder's layers keep theirs; a layer past
     * them is still refused, naming the tensor.
     */
    @Test
    void multiTokenPredictionLayersFollowTheLast() {
        MergeConfig config = Merges.config("merge_method: passthrough\nmodels: [{model: a}]");
        List<String> names = List.of("model.layers.0.q.weight", "model.layers.1.q.weight", "model.layers.2.q.weight",
                "model.layers.3.q.weight", "model.layers.4.q.weight", "model.layers.5.q.weight");
        TensorMerger mtp = TensorMerger.create(config, LayerPositions.of(5, 1, names), PlanAnalysis.NONE, Map.of(), null);
        assertEquals(0.25, mtp.gradientPosition("model.layers.1.q.weight"));
        assertEquals(1.0, mtp.gradientPosition("model.layers.4.q.weight"));
        assertEquals(1.0, mtp.gradientPosition("model.layers.5.q.weight"));
        BadInputException past = assertThrows(BadInputException.class,
                () -> mtp.gradientPosition("model.layers.6.q.weight"));
        assertTrue(past.getMessage().contains("model.layers.6.q.weight") && past.getMessage().contains(
                "num_nextn_predict_layers"), past.getMessage());
        assertThrows(BadInputException.class, () -> TensorMerger.create(config, LayerPositions.of(5, 0, names),
                PlanAnalysis.NONE, Map.of(), null).gradientPosition("model.layers.5.q.weight"), "undeclared");

        List<String> withVision = new ArrayList<>(names);
        withVision.addAll(List.of("visual.blocks.0.qkv.weight", "visual.blocks.1.qkv.weight",
                "visual.blocks.2.qkv.weight", "visual.blocks.3.qkv.weight", "visual.blocks.4.qkv.weight",
                "visual.blocks.5.qkv.weight", "visual.blocks.6.qkv.weight", "visual.blocks.7.qkv.weight"));
        LayerPositions vlm = LayerPositions.of(5, 1, withVision);
        assertEquals(Map.of("model.layers.", 5, "visual.blocks.", 8), vlm.stacks(), "the decoder counts without it");
        assertEquals(1.0, vlm.position("model.layers.5.q.weight"));
        assertEquals(0.75, vlm.position("model.layers.3.q.weight"));
        assertEquals(3.0 / 7, vlm.position("visual.blocks.3.qkv.weight"));
    }

    @Test
    void evaluateSettingPortsMergekitCases() {
        // mergekit tests/test_config_parameters.py: [1e-5, 1e-3] at t = 0.5 -> 0.000505 for a float
        assertEquals(0.000505, (double) ParameterSettings.evaluate("w", List.of(1e-5, 1e-3), 0.5, ParamDef.Kind.NUMBER), 1e-12);
        // A bool is an int in Python, and mergekit's config types parse [false, true] as floats: a gradient.
        assertEquals(0.5, ParameterSettings.evaluate("w", List.of(false, true), 0.5, ParamDef.Kind.BOOLEAN));
        assertEquals(0.5, ParameterSettings.evaluate("w", List.of(0L, 1L), 0.5, ParamDef.Kind.BOOLEAN));
        assertEquals(1.0, ParameterSettings.evaluate("w", List.of(false, true, true), 0.5, ParamDef.Kind.BOOLEAN));
        assertEquals("1e-5", ParameterSettings.evaluate("w", List.of("1e-5", "1e-3"), 0.5, ParamDef.Kind.STRING));
        assertEquals(3.0, ParameterSettings.evaluate("w", List.of(2L, 4L), 0.5, ParamDef.Kind.NUMBER));
        // gradient of 3 values at t = 0.75: s = 1.5 -> halfway between v[1] and v[2]
        assertEquals(2.5, ParameterSettings.evaluate("w", List.of(0.0, 2.0, 3.0), 0.75, ParamDef.Kind.NUMBER));
        assertEquals(3.0, ParameterSettings.evaluate("w", List.of(0.0, 2.0, 3.0), 1.0, ParamDef.Kind.NUMBER));
        Object conds = List.of(Map.of("filter", "embed", "value", List.of(1e-5, 1e-3)));
        assertEquals(0.000505, (double) ParameterSettings.evaluate("embed.weight", conds, 0.5, ParamDef.Kind.NUMBER), 1e-12);
        assertEquals(null, ParameterSettings.evaluate("other", conds, 0.5, ParamDef.Kind.NUMBER));
    }

    @Test
    void filtersFirstMatchThenGlobalThenDefault() {
        String yaml = """
                merge_method: ties
                base_model: base
                models:
                  - model: a
                    parameters:
                      weight:
                        - filter: self_attn
                          value: 2
                        - filter: mlp
                          value: [0, 1]
                      density: [{filter: lm_head, value: 0.3}]
                  - model: b
                    parameters: {weight: 1}
                parameters:
                  weight: 0.25
                  density: [{filter: mlp, value: 0.6}]
                  normalize: [{filter: embed, value: false}, {value: true}]
                """;
        TensorMerger m = TensorMerger.create(Merges.config(yaml), 3);
        TensorParams attn = m.params("model.layers.0.self_attn.q_proj.weight");
        assertEquals(2.0, attn.perModel().get(1).number("weight"));
        assertEquals(1.0, attn.perModel().get(1).number("density")); // no filter matches anywhere: default
        assertTrue(attn.global().bool("normalize"));
        TensorParams mlp = m.params("model.layers.1.mlp.up_proj.weight");
        assertEquals(0.5, mlp.perModel().get(1).number("weight"));
        assertEquals(0.6, mlp.perModel().get(1).number("density")); // model filter misses: global
        assertEquals(0.6, mlp.perModel().get(2).number("density"));
        TensorParams norm = m.params("model.norm.weight");
        assertEquals(0.25, norm.perModel().get(1).number("weight")); // model filters miss: global
        assertEquals(1.0, norm.perModel().get(2).number("weight"));
        TensorParams head = m.params("lm_head.weight");
        assertEquals(0.3, head.perModel().get(1).number("density"));
        assertEquals(false, m.params("model.embed_tokens.weight").global().bool("normalize"));
    }

    /**
     * A list of true/false values blends between layers, as mergekit's gradients blend it: where it
     * lands on 0 or 1 it is false or true; elsewhere (0.33) mergekit's merge task refuses it (a
     * pydantic {@code bool} field), so the plan does too, naming the key and the tensor.
     */
    @Test
    void aTrueFalseGradientIsTrueOrFalseOnlyWhereItBlendsToOneOrZero() {
        String yaml = """
                merge_method: task_arithmetic
                base_model: base
                models: [{model: a, parameters: {weight: 1}}]
                parameters: {normalize: [false, true, true]}
                """;
        TensorMerger three = TensorMerger.create(Merges.config(yaml), 3);
        assertFalse(three.params("model.layers.0.mlp.up_proj.weight").global().bool("normalize"));
        assertTrue(three.params("model.layers.1.mlp.up_proj.weight").global().bool("normalize"), "t = 0.5 lands on v[1]");
        assertTrue(three.params("model.layers.2.mlp.up_proj.weight").global().bool("normalize"));
        assertFalse(three.params("lm_head.weight").global().bool("normalize"), "post-layer weights at t = 0");
        TensorMerger four = TensorMerger.create(Merges.config(yaml), 4);
        BadInputException e = assertThrows(BadInputException.class,
                () -> four.params("model.layers.1.mlp.up_proj.weight"));
        assertTrue(e.getMessage().contains("parameters.normalize: is 0.666") && e.getMessage().contains("on tensor model.layers.1.mlp.up_proj.weight"),
                e.getMessage());
        TensorMerger scalar = TensorMerger.create(Merges.config(yaml.replace("[false, true, true]", "0.5")), 3);
        assertThrows(BadInputException.class, () -> scalar.params("model.layers.0.mlp.up_proj.weight"));
    }

    @Test
    void weightGradientDrivesTheMerge() {
        String yaml = """
                merge_method: task_arithmetic
                base_model: base
                models: [{model: a, parameters: {weight: [0.0, 1.0]}}]
                """;
        TensorMerger m = TensorMerger.create(Merges.config(yaml), 3);
        var in = inputs("base", f(1, 1), "a", f(3, 5));
        assertArrayEquals(f(1, 1), m.merge("model.embed_tokens.weight", new long[] {2}, 0, in, 0), 0f);
        assertArrayEquals(f(2, 3), m.merge("model.layers.1.mlp.up_proj.weight", new long[] {2}, 0, in, 0), 0f);
        assertArrayEquals(f(3, 5), m.merge("model.layers.2.mlp.up_proj.weight", new long[] {2}, 0, in, 0), 0f);
        assertArrayEquals(f(1, 1), m.merge("lm_head.weight", new long[] {2}, 0, in, 0), 0f);
    }

    @Test
    void requiredParameterWithNoMatchingFilterFailsOnThatTensor() {
        String yaml = """
                merge_method: linear
                models: [{model: a, parameters: {weight: [{filter: mlp, value: 1}]}}]
                """;
        TensorMerger m = TensorMerger.create(Merges.config(yaml), 2);
        assertEquals(1.0, m.params("model.layers.0.mlp.up_proj.weight").perModel().get(0).number("weight"));
        BadInputException e = assertThrows(BadInputException.class, () -> m.params("model.layers.0.self_attn.q_proj.weight"));
        assertTrue(e.getMessage().contains("weight") && e.getMessage().contains("self_attn"), e.getMessage());
    }

    @Test
    void inputsMustMatchTheConfigModels() {
        TensorMerger m = TensorMerger.create(Merges.config("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]"), 1);
        assertThrows(IllegalArgumentException.class, () -> m.merge("w", new long[] {2}, 0, inputs("a", f(1, 2)), 0));
        assertThrows(BadInputException.class, () -> m.merge("w", new long[] {2}, 0, inputs("a", f(1, 2), "b", f(1)), 0));
        assertThrows(IllegalArgumentException.class, () -> m.merge("w", new long[] {1}, 0, inputs("a", f(1, 2), "b", f(1, 2)), 0));
    }
}
