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
}
