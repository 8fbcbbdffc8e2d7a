package dev.mergeval.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.CheckpointTensorSource;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.generation.BatchGenerator;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.LlamaLayout;
import dev.mergeval.runtime.llama.LlamaWeights;
import java.io.InputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;

/**
 * Tokens per second of the runtime's real generation path ({@link BatchGenerator}: KV cache, left
 * padding, per-step scoped managers, logits to Java, greedy pick) for batch 1, 8 and 32, prefill
 * and decode separately, against two baselines measured in the same run: the same model in eager
 * PyTorch ({@code python3} with torch, if present; same threads) and, for prefill, the roofline of
 * this machine's measured F32 matmul throughput.
 *
 * <pre>
 * mergeval bench runtime [--threads N] [--prompt-len P] [--decode S] [--model DIR]... [--generate-100m DIR]
 * </pre>
 *
 * Prefill: {@code B * P / t(generate 1 token)}. Decode: {@code B * S / (t(generate S + 1) - t(generate 1))}.
 * Each figure is the best of three runs after a warm-up. Decode is also given per CPU-second of
 * the whole process (both sides), which stays comparable on a shared, oversubscribed machine.
 */
public final class RuntimeBenchmark {

    private static final int[] BATCHES = {1, 8, 32};

    private static final com.sun.management.OperatingSystemMXBean CPU =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    private RuntimeBenchmark() {
    }

    /**
     * Prints the table for {@code models} in order, with {@code threads} intra-op threads, prompts of
     * {@code promptLen} tokens and {@code decode} decoding steps.
     */
    public static void run(int threads, int promptLen, int decode, List<Path> models) throws Exception {
        if (models.isEmpty()) {
            throw new BadInputException("no model to benchmark: give --model DIR or --generate-100m DIR");
        }
        for (Path model : models) {
            LlamaConfig config = config(model);
            if ((long) promptLen + decode + 1 > config.maxPositionEmbeddings()) {
                throw new BadInputException(model.resolve("config.json") + ": --prompt-len " + promptLen + " and --decode "
                        + decode + " (plus the first token) need " + (promptLen + decode + 1L)
                        + " positions; max_position_embeddings is " + config.maxPositionEmbeddings());
            }
        }
        Engine.getEngine("PyTorch"); // loads the native library before the thread setting
        JniUtils.setNumThreads(threads);
        double gflops = matmulGflops();
        System.out.printf("threads=%d prompt_len=%d decode_steps=%d matmul_f32=%.1f GFLOP/s%n",
                threads, promptLen, decode, gflops);
        System.out.println("| model | batch | prefill tok/s | torch prefill tok/s | matmul roofline prefill tok/s "
                + "| decode tok/s | torch decode tok/s | decode tok/CPU-s | torch decode tok/CPU-s | decode CPU vs torch |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Path model : models) {
            run(model, threads, promptLen, decode, gflops);
        }
    }

    private static LlamaConfig config(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(dir + ": not a model directory (no config.json)");
        }
        return LlamaConfig.parse(Files.readString(file), file.toString());
    }

    private static void run(Path dir, int threads, int promptLen, int decode, double gflops) throws Exception {
        LlamaConfig config = config(dir);
        long flopsPerToken = 0;
        for (Map.Entry<String, long[]> e : LlamaLayout.expectedShapes(config).entrySet()) {
            if (e.getValue().length == 2 && !e.getKey().equals(LlamaLayout.EMBED)) {
                flopsPerToken += 2 * e.getValue()[0] * e.getValue()[1];
            }
        }
        flopsPerToken += 2L * config.vocabSize() * config.hiddenSize(); // LM head
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
                CheckpointTensorSource src = new CheckpointTensorSource(Checkpoint.open(dir.toString(), new Configuration()))) {
            Map<String, NDArray> params = LlamaWeights.load(config, src, manager, Device.cpu(), DataType.FLOAT32);
            BatchGenerator gen = new BatchGenerator(new LlamaForward(config), params, Set.of(), (prompt, ids) -> "");
            for (int batch : BATCHES) {
                List<int[]> prompts = prompts(batch, promptLen, config.vocabSize());
                long[] keys = new long[batch];
                gen.generate(manager, prompts, keys, GenerationParams.greedy(2));
                double[] prefill = {Double.MAX_VALUE, Double.MAX_VALUE};
                double[] full = {Double.MAX_VALUE, Double.MAX_VALUE};
                for (int rep = 0; rep < 3; rep++) {
                    min(prefill, time(() -> gen.generate(manager, prompts, keys, GenerationParams.greedy(1))));
                    min(full, time(() -> gen.generate(manager, prompts, keys, GenerationParams.greedy(decode + 1))));
                }
                double prefillTps = batch * promptLen / prefill[0];
                double decodeTps = batch * decode / (full[0] - prefill[0]);
                double decodeCpu = batch * decode / (full[1] - prefill[1]);
                JsonNode torch = torchBaseline(dir, batch, promptLen, decode, threads);
                System.out.printf("| %s | %d | %.0f | %s | %.0f | %.0f | %s | %.0f | %s | %s |%n", dir.getFileName(), batch,
                        prefillTps, field(torch, "prefill_tokens_per_s"), gflops * 1e9 / flopsPerToken,
                        decodeTps, field(torch, "decode_tokens_per_s"), decodeCpu,
                        field(torch, "decode_tokens_per_cpu_s"),
                        torch == null ? "n/a" : String.format("%.2fx", decodeCpu / torch.get("decode_tokens_per_cpu_s").asDouble()));
            }
        }
    }

    private static List<int[]> prompts(int batch, int len, int vocab) {
        SplittableRandom r = new SplittableRandom(batch);
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int[] p = new int[len];
            p[0] = 1;
            for (int i = 1; i < len; i++) {
                p[i] = r.nextInt(3, vocab);
            }
            out.add(p);
        }
        return out;
    }

    private static double wall(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Wall and process CPU seconds of {@code r}. */
    private static double[] time(Runnable r) {
        long c0 = CPU.getProcessCpuTime();
        long t0 = System.nanoTime();
        r.run();
        return new double[] {(System.nanoTime() - t0) / 1e9, (CPU.getProcessCpuTime() - c0) / 1e9};
    }

    private static void min(double[] best, double[] run) {
        best[0] = Math.min(best[0], run[0]);
        best[1] = Math.min(best[1], run[1]);
    }

    private static String field(JsonNode torch, String key) {
        return torch == null ? "n/a" : String.format("%.0f", torch.get(key).asDouble());
    }

    /** Best of five {@code [1024, 1024] x [1024, 1024]} F32 matmuls. */
    private static double matmulGflops() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDArray a = m.randomNormal(new Shape(1024, 1024));
            NDArray b = m.randomNormal(new Shape(1024, 1024));
            a.matMul(b).close();
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                best = Math.min(best, wall(() -> a.matMul(b).close()));
            }
            return 2.0 * 1024 * 1024 * 1024 / best / 1e9;
        }
    }

    /** The same model, batch and lengths in eager PyTorch, or null if python3 with torch is absent. */
    private static JsonNode torchBaseline(Path dir, int batch, int promptLen, int decode, int threads) throws Exception {
        Path python = Path.of("/usr/bin/python3");
        if (!Files.isExecutable(python)) {
            return null;
        }
        Path script = Files.createTempFile("hf_llama_reference", ".py");
        try (InputStream in = RuntimeBenchmark.class.getResourceAsStream("hf_llama_reference.py")) {
            Files.write(script, in.readAllBytes());
        }
        try {
            Process p = new ProcessBuilder(python.toString(), script.toString(), "--bench", dir.toString(),
                    String.valueOf(batch), String.valueOf(promptLen), String.valueOf(decode), String.valueOf(threads))
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return null;
            }
            return Mappers.JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
        } finally {
            Files.deleteIfExists(script);
        }
    }

    /**
     * Writes a random ~110M-parameter Llama (hidden 768, 12 layers, 12 heads, 4 KV heads, MLP 2048,
     * vocab 32000, F32) to {@code dir} unless it is already there.
     */
    public static Path generate100M(Path dir) throws Exception {
        if (Files.exists(dir.resolve("model.safetensors"))) {
            return dir;
        }
        ObjectNode c = Mappers.JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("vocab_size", 32000);
        c.put("hidden_size", 768);
        c.put("intermediate_size", 2048);
        c.put("num_hidden_layers", 12);
        c.put("num_attention_heads", 12);
        c.put("num_key_value_heads", 4);
        c.put("max_position_embeddings", 2048);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", false);
        SplittableRandom r = new SplittableRandom(100);
        SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), c, SyntheticModels.tensors(c, DType.F32), t -> {
            float[] v = new float[Math.toIntExact(t.numElements())];
            boolean norm = t.rank() == 1;
            for (int i = 0; i < v.length; i++) {
                v[i] = norm ? 1f : (float) (r.nextDouble(-0.04, 0.04));
            }
            return v;
        }, Long.MAX_VALUE, Map.of());
        return dir;
    }
}
