package dev.mergeval.runtime.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Logits against an independent eager-PyTorch implementation
 * ({@code dev/mergeval/bench/hf_llama_reference.py} in main resources, written from Hugging Face's modeling
 * code) within 1e-4. Skipped where {@code python3} with torch and numpy is absent (Debian:
 * {@code apt-get install python3-torch}).
 */
class TorchReferenceTest {

    private static final String PYTHON = "/usr/bin/python3";

    @TempDir
    static Path tmp;

    private static Path script;

    @BeforeAll
    static void requireTorch() throws Exception {
        boolean available = false;
        if (Files.isExecutable(Path.of(PYTHON))) {
            Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            available = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
        }
        assumeTrue(available, "python3 with torch and numpy not found: skipping the eager-PyTorch reference test");
        script = tmp.resolve("hf_llama_reference.py");
        try (InputStream in = TorchReferenceTest.class.getResourceAsStream("/dev/mergeval/bench/hf_llama_reference.py")) {
            Files.write(script, in.readAllBytes());
        }
    }

    /** Logits of every sequence, concatenated, from one python run. */
    private static float[] torchLogits(Path model, int[]... sequences) throws Exception {
        Path out = Files.createTempFile(tmp, "logits", ".bin");
        List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString(), model.toString(), out.toString()));
        for (int[] tokens : sequences) {
            cmd.add(java.util.Arrays.stream(tokens).mapToObj(String::valueOf).collect(java.util.stream.Collectors.joining(",")));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, "reference failed: " + log);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        b.asFloatBuffer().get(v);
        return v;
    }

    private static void compare(Path model, int[]... sequences) throws Exception {
        LlamaConfig c = LlamaConfig.parse(Files.readString(model.resolve("config.json")), "config.json");
        try (NDManager m = NDManager.newBaseManager();
                CheckpointTensorSource src = new CheckpointTensorSource(Checkpoint.open(model.toString(), new Configuration()))) {
            Map<String, NDArray> params = LlamaWeights.load(c, src, m, Device.cpu(), DataType.FLOAT32);
            LlamaForward forward = new LlamaForward(c);
            float[] expected = torchLogits(model, sequences);
            int offset = 0;
            for (int[] tokens : sequences) {
                float[] actual = forward.logits(params, m.create(tokens).reshape(1, tokens.length)).toFloatArray();
                double worst = 0;
                for (int i = 0; i < actual.length; i++) {
                    worst = Math.max(worst, Math.abs(expected[offset + i] - actual[i]));
                }
                offset += actual.length;
                assertTrue(worst <= 1e-4, model.getFileName() + ": max |diff| vs torch " + worst);
            }
            assertEquals(expected.length, offset);
        }
    }

    @Test
    void stories260KMatchesTorch() throws Exception {
        compare(TestModels.stories260K(),
                new int[] {1, 403, 407, 261, 378},
                new int[] {1, 32, 100, 200, 300, 400, 500, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
                new int[] {1});
    }

    @Test
    void generatedVariantsMatchTorch() throws Exception {
        ObjectNode llama3 = TinyModels.llamaConfig();
        llama3.put("num_key_value_heads", 1);
        llama3.put("head_dim", 16);
        ObjectNode rs = llama3.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 16);
        ObjectNode qwen2 = TinyModels.llamaConfig();
        qwen2.putArray("architectures").add("Qwen2ForCausalLM");
        qwen2.put("tie_word_embeddings", false);
        ObjectNode linear = TinyModels.llamaConfig();
        linear.putArray("architectures").add("MistralForCausalLM");
        linear.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
        int[] tokens = new int[40];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7 + 3) % 64;
        }
        compare(TinyModels.write(tmp.resolve("llama3"), llama3, DType.BF16, 3, Long.MAX_VALUE), tokens);
        compare(TinyModels.write(tmp.resolve("qwen2"), qwen2, DType.F16, 4, 30_000), tokens);
        compare(TinyModels.write(tmp.resolve("linear"), linear, DType.F32, 5, Long.MAX_VALUE), tokens);
    }
}
