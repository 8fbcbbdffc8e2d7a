package dev.mergeval.runtime.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.runtime.CheckpointTensorSource;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.runtime.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Generated checkpoints of each supported variant load, match the plain-Java oracle within 1e-4,
 * and decode with the KV cache exactly as a full forward does.
 */
class ArchitectureVariantsTest {

    @TempDir
    Path tmp;

    static Stream<Arguments> variants() {
        ObjectNode gqa4 = TinyModels.llamaConfig();
        gqa4.put("num_key_value_heads", 1);
        ObjectNode llama3 = TinyModels.llamaConfig();
        llama3.put("num_key_value_heads", 4);
        llama3.put("head_dim", 16);
        llama3.put("rope_theta", 500000.0);
        ObjectNode rs = llama3.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 16);
        ObjectNode qwen2 = TinyModels.llamaConfig();
        qwen2.putArray("architectures").add("Qwen2ForCausalLM");
        qwen2.put("tie_word_embeddings", false);
        ObjectNode mistral = TinyModels.llamaConfig();
        mistral.putArray("architectures").add("MistralForCausalLM");
        mistral.put("head_dim", 12);
        ObjectNode biased = TinyModels.llamaConfig();
        biased.put("attention_bias", true);
        biased.put("mlp_bias", true);
        biased.put("tie_word_embeddings", false);
        ObjectNode slidingMistral = TinyModels.llamaConfig();
        slidingMistral.putArray("architectures").add("MistralForCausalLM");
        slidingMistral.put("sliding_window", 5);
        ObjectNode slidingQwen2 = TinyModels.llamaConfig();
        slidingQwen2.putArray("architectures").add("Qwen2ForCausalLM");
        slidingQwen2.put("use_sliding_window", true);
        slidingQwen2.put("sliding_window", 4);
        slidingQwen2.put("max_window_layers", 1);
        return Stream.of(
                Arguments.of("mistral sliding window 5", slidingMistral, DType.F32, Long.MAX_VALUE),
                Arguments.of("qwen2 sliding window 4 from layer 1", slidingQwen2, DType.F32, Long.MAX_VALUE),
                Arguments.of("llama GQA 4:1, sharded F32", gqa4, DType.F32, 20_000L),
                Arguments.of("llama3 rope scaling, head_dim 16", llama3, DType.F32, Long.MAX_VALUE),
                Arguments.of("qwen2 q/k/v biases, untied, F16", qwen2, DType.F16, Long.MAX_VALUE),
                Arguments.of("mistral head_dim 12 != hidden/heads, BF16", mistral, DType.BF16, Long.MAX_VALUE),
                Arguments.of("llama attention and MLP biases, untied", biased, DType.F32, Long.MAX_VALUE));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void loadsMatchesOracleAndCachedDecodingEqualsFullForward(String name, ObjectNode config, DType dtype,
            long shardBytes) throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), config, dtype, 42, shardBytes);
        LlamaConfig c = LlamaConfig.parse(Files.readString(dir.resolve("config.json")), "config.json");
        int[] tokens = new int[20];
        Random r = new Random(5);
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = r.nextInt(c.vocabSize());
        }
        float[][] expected = new ReferenceLlama(c, TestModels.readAll(dir)).logits(tokens);
        try (NDManager m = NDManager.newBaseManager();
                CheckpointTensorSource src = new CheckpointTensorSource(Checkpoint.open(dir.toString(), new Configuration()))) {
            Map<String, NDArray> params = LlamaWeights.load(c, src, m, Device.cpu(), DataType.FLOAT32);
            LlamaForward forward = new LlamaForward(c);
            float[] full = forward.logits(params, m.create(tokens).reshape(1, tokens.length)).toFloatArray();
            int v = c.vocabSize();
            for (int p = 0; p < tokens.length; p++) {
                assertClose(expected[p], Arrays.copyOfRange(full, p * v, (p + 1) * v), name + " oracle position " + p);
            }
            LlamaForward.Output out = forward.forward(
                    params, m.create(Arrays.copyOf(tokens, 3)).reshape(1, 3), null, null, false);
            for (int p = 3; p < tokens.length; p++) {
                out = forward.forward(params, m.create(new int[] {tokens[p]}).reshape(1, 1), null, out.cache(), false);
                assertClose(Arrays.copyOfRange(full, p * v, (p + 1) * v), out.logits().toFloatArray(),
                        name + " cached position " + p);
            }
            // a row left-padded by 6 next to the whole sequence sees what it sees alone
            int pad = 6;
            int[] batch = new int[2 * tokens.length];
            long[] mask = new long[2 * tokens.length];
            System.arraycopy(tokens, 0, batch, 0, tokens.length);
            System.arraycopy(tokens, 0, batch, tokens.length + pad, tokens.length - pad);
            Arrays.fill(mask, 0, tokens.length, 1);
            Arrays.fill(mask, tokens.length + pad, 2 * tokens.length, 1);
            float[] padded = forward.forward(params, m.create(batch).reshape(2, tokens.length),
                    m.create(mask).reshape(2, tokens.length), null, true).logits().toFloatArray();
            int rowTwo = tokens.length * v;
            for (int p = 0; p < tokens.length - pad; p++) {
                assertClose(Arrays.copyOfRange(full, p * v, (p + 1) * v),
                        Arrays.copyOfRange(padded, rowTwo + (p + pad) * v, rowTwo + (p + pad + 1) * v),
                        name + " left-padded position " + p);
            }
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertEquals(expected.length, actual.length);
        assertTrue(worst <= 1e-4, what + ": max |diff| " + worst);
    }
}
