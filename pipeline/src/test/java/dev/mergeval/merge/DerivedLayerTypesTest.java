package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.Mappers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The attention types transformers derives from a layer's index where {@code config.json} lists no
 * {@code layer_types}, as its configs' rules give them ({@link MergeLayout#derivedLayerType}).
 */
class DerivedLayerTypesTest {

    @Test
    void typesFollowEachFamilysRule() throws Exception {
        assertEquals("SSSSSFSSSSSF", types("{\"model_type\": \"gemma3_text\"}", 12));
        assertEquals("SSFSSF", types("{\"model_type\": \"gemma3_text\", \"sliding_window_pattern\": 3}", 6));
        assertEquals("SFSFS", types("{\"model_type\": \"gemma2\"}", 5));
        assertEquals("SSSFSSSF", types("{\"model_type\": \"cohere2\"}", 8));
        assertEquals("FFSS", types("{\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 4096,"
                + " \"max_window_layers\": 2}", 4));
        assertEquals("FFFF", types("{\"model_type\": \"qwen3\", \"use_sliding_window\": false, \"sliding_window\": 4096,"
                + " \"max_window_layers\": 2}", 4));
        assertEquals("FFFF", types("{\"model_type\": \"qwen2_moe\", \"use_sliding_window\": true,"
                + " \"sliding_window\": null, \"max_window_layers\": 2}", 4));
        assertNull(MergeLayout.derivedLayerType(json("{\"model_type\": \"llama\"}"), 0));
        assertNull(MergeLayout.derivedLayerType(json("{\"model_type\": \"gemma3_text\", \"sliding_window_pattern\": 0}"),
                0));
    }

    private static String types(String config, int layers) throws Exception {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            out.add(MergeLayout.derivedLayerType(json(config), i).equals("sliding_attention") ? "S" : "F");
        }
        return String.join("", out);
    }

    private static JsonNode json(String text) throws Exception {
        return Mappers.JSON.readTree(text);
    }
}
