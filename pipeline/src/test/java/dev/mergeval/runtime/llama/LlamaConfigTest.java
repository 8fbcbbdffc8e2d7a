package dev.mergeval.runtime.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Parsing Hugging Face {@code config.json} files of each supported family. */
class LlamaConfigTest {

    @Test
    void llama31WithRopeScalingAndEosList() {
        LlamaConfig c = LlamaConfig.parse("""
                {"architectures": ["LlamaForCausalLM"], "vocab_size": 128256, "hidden_size": 4096,
                 "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
                 "rope_theta": 500000.0, "tie_word_embeddings": false, "attention_bias": false,
                 "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
                 "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
                """, "config.json");
        assertEquals(128, c.headDim());
        assertEquals(4, c.groupSize());
        assertEquals("llama3", c.ropeScaling().type());
        assertEquals(8192, c.ropeScaling().originalMaxPositionEmbeddings());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertFalse(c.qkvBias() || c.outputBias() || c.tieWordEmbeddings());
    }

    @Test
    void qwen2HasQkvBiasesButNoOutputBias() {
        LlamaConfig c = LlamaConfig.parse("""
                {"architectures": ["Qwen2ForCausalLM"], "vocab_size": 151936, "hidden_size": 896,
                 "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
                 "num_key_value_heads": 2, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
                 "tie_word_embeddings": true, "eos_token_id": 151645, "rope_scaling": null}
                """, "config.json");
        assertTrue(c.qkvBias());
        assertFalse(c.outputBias());
        assertEquals(64, c.headDim());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(-1, c.bosTokenId());
    }

    @Test
    void errorsNameTheFileAndKey() {
        BadInputException missing = assertThrows(BadInputException.class, () -> LlamaConfig.parse(
                "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8}", "m/config.json"));
        assertTrue(missing.getMessage().startsWith("m/config.json: ") && missing.getMessage().contains("'"),
                missing.getMessage());
        BadInputException gqa = assertThrows(BadInputException.class, () -> LlamaConfig.parse("""
                {"architectures": ["MistralForCausalLM"], "vocab_size": 10, "hidden_size": 12,
                 "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "num_key_value_heads": 2}
                """, "c.json"));
        assertTrue(gqa.getMessage().contains("num_key_value_heads 2"), gqa.getMessage());
        assertThrows(BadInputException.class, () -> LlamaConfig.parse("not json", "c.json"));
    }

    private static final String TINY = "\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 8,"
            + " \"num_hidden_layers\": 3";

    private static LlamaConfig parse(String architecture, String extra) {
        String heads = extra.contains("num_attention_heads") ? "" : ", \"num_attention_heads\": 2";
        return LlamaConfig.parse("{\"architectures\": [\"" + architecture + "\"], " + TINY + heads + ", " + extra + "}",
                "m/config.json");
    }

    private static String refused(String architecture, String extra) {
        return assertThrows(BadInputException.class, () -> parse(architecture, extra)).getMessage();
    }

    /** Mistral slides every layer where sliding_window is set; Qwen2 only when asked, from max_window_layers. */
    @Test
    void slidingWindowsAsHuggingFaceReadsThem() {
        LlamaConfig mistral = parse("MistralForCausalLM", "\"sliding_window\": 4096");
        assertTrue(mistral.slides(0) && mistral.slides(2));
        assertEquals(4096, mistral.slidingWindow());
        assertFalse(parse("MistralForCausalLM", "\"sliding_window\": null").slides(0));
        assertFalse(parse("Qwen2ForCausalLM", "\"sliding_window\": 4, \"use_sliding_window\": false").slides(2));
        LlamaConfig qwen2 = parse("Qwen2ForCausalLM",
                "\"sliding_window\": 4, \"use_sliding_window\": true, \"max_window_layers\": 2");
        assertFalse(qwen2.slides(1));
        assertTrue(qwen2.slides(2));
        assertFalse(parse("LlamaForCausalLM", "\"sliding_window\": 4").slides(0), "HF's Llama has no window");
    }

    /** What Hugging Face refuses, or would run differently, is refused naming the file and key, once. */
    @Test
    void settingsThisRuntimeWouldMisreadAreRefused() {
        assertTrue(refused("LlamaForCausalLM", "\"hidden_act\": \"gelu\"").contains("hidden_act 'gelu'"));
        assertEquals(3, parse("LlamaForCausalLM", "\"hidden_act\": \"swish\"").numHiddenLayers(), "swish is silu");
        assertTrue(refused("LlamaForCausalLM", "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}")
                .contains("rope_scaling is missing 'low_freq_factor'"));
        assertTrue(refused("LlamaForCausalLM", "\"rope_scaling\": {\"factor\": 2.0}").contains("no rope_type"));
        assertTrue(refused("LlamaForCausalLM", "\"rope_scaling\": {\"type\": \"linear\"}")
                .contains("missing 'factor'"));
        assertTrue(refused("LlamaForCausalLM", "\"rope_theta\": \"abc\"").contains("'rope_theta' must be a number"));
        assertTrue(refused("LlamaForCausalLM", "\"tie_word_embeddings\": \"yes\"").contains("tie_word_embeddings"));
        assertTrue(refused("LlamaForCausalLM", "\"num_attention_heads\": 0").contains("num_attention_heads must be > 0"));
        String missing = assertThrows(BadInputException.class, () -> LlamaConfig.parse(
                "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"num_attention_heads\": 2}",
                "m/config.json")).getMessage();
        assertEquals("m/config.json: missing or non-integer key 'vocab_size'", missing);
        assertEquals(2.0, parse("LlamaForCausalLM", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}")
                .ropeScaling().factor());
    }
}
