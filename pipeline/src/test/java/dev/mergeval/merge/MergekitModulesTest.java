package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Which module of mergekit's modular definitions a tensor belongs to, its layer index there and its
 * name at another index, on Qwen2-VL's names (no weight prefix: the decoder's {@code model.layers.},
 * the vision tower's {@code visual.blocks.}, the projector's {@code visual.merger.}, whose
 * {@code mlp.0} is no layer) and Gemma 3's (prefixed).
 */
class MergekitModulesTest {

    private static Map<String, LayerStack> modules(String architecture, String modelType) {
        ObjectNode config = Mappers.JSON.createObjectNode().put("model_type", modelType);
        config.putArray("architectures").add(architecture);
        Map<String, LayerStack> byName = new LinkedHashMap<>();
        MergekitModules.modulesOf(config).forEach(m -> byName.put(m.module(), m));
        return byName;
    }

    @Test
    void qwen2VlTensorsFallInTheirModules() {
        Map<String, LayerStack> m = modules("Qwen2VLForConditionalGeneration", "qwen2_vl");
        assertEquals(List.of("text_decoder", "multi_modal_projector", "vision_tower"), List.copyOf(m.keySet()));
        LayerStack text = m.get("text_decoder");
        LayerStack vision = m.get("vision_tower");
        LayerStack projector = m.get("multi_modal_projector");
        assertSame(text, MergekitModules.moduleOf("model.layers.2.mlp.gate_proj.weight", m));
        assertEquals(2, text.layerIndex("model.layers.2.mlp.gate_proj.weight"));
        assertEquals("model.layers.7.mlp.gate_proj.weight", text.withLayerIndex("model.layers.2.mlp.gate_proj.weight", 7));
        assertSame(text, MergekitModules.moduleOf("model.embed_tokens.weight", m));
        assertEquals(true, text.isPre("model.embed_tokens.weight"));
        assertEquals(false, text.isPre("model.norm.weight"));
        assertSame(vision, MergekitModules.moduleOf("visual.blocks.3.attn.qkv.weight", m));
        assertEquals(3, vision.layerIndex("visual.blocks.3.attn.qkv.weight"));
        assertSame(projector, MergekitModules.moduleOf("visual.merger.mlp.0.weight", m));
        assertEquals(-1, projector.layerIndex("visual.merger.mlp.0.weight"), "mlp.0 is no layer");
        assertEquals(true, projector.isPre("visual.merger.mlp.2.bias"));
        // Not listed by the definition: placed by the layer names it continues.
        assertSame(vision, MergekitModules.moduleOf("visual.blocks.3.attn.extra_scale", m));
        assertEquals(3, vision.layerIndex("visual.blocks.3.attn.extra_scale"));
        assertNull(MergekitModules.moduleOf("audio.encoder.weight", m));
        assertEquals("vision_config.depth", vision.layersKey());
        assertEquals("num_hidden_layers", text.layersKey());
        assertNull(projector.layersKey());
    }

    @Test
    void gemma3TensorsFallInTheirPrefixedModules() {
        Map<String, LayerStack> m = modules("Gemma3ForConditionalGeneration", "gemma3");
        LayerStack vision = m.get("vision_tower");
        String layer = "vision_tower.vision_model.encoder.layers.11.mlp.fc1.weight";
        assertSame(vision, MergekitModules.moduleOf(layer, m));
        assertEquals(11, vision.layerIndex(layer));
        assertSame(m.get("text_decoder"), MergekitModules.moduleOf("language_model.model.layers.0.mlp.up_proj.weight", m));
        assertSame(m.get("multi_modal_projector"), MergekitModules.moduleOf("multi_modal_projector.mm_soft_emb_norm.weight", m));
        // Not listed: placed by the module's prefix, after the layers.
        assertSame(vision, MergekitModules.moduleOf("vision_tower.vision_model.head.weight", m));
        assertEquals(-1, vision.layerIndex("vision_tower.vision_model.head.weight"));
        assertEquals(false, vision.isPre("vision_tower.vision_model.head.weight"));
    }

    @Test
    void aModelOfOneModuleHasDefault() {
        assertEquals(List.of(MergekitModules.DEFAULT), List.copyOf(modules("LlamaForCausalLM", "llama").keySet()));
        assertEquals(List.of(MergekitModules.DEFAULT), List.copyOf(modules("NoSuchForCausalLM", "x").keySet()));
    }
}
