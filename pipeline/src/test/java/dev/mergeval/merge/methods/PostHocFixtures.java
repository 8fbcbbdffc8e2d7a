package dev.mergeval.merge.methods;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/** Small hand-written checkpoints, and merges of them run through plan, execute and commit. */
final class PostHocFixtures {

    static final Configuration CONF = new Configuration();

    private PostHocFixtures() {
    }

    /** One tensor: its shape and row-major values. */
    record T(long[] shape, float[] values) {
        static T of(int rows, int cols, double... v) {
            return new T(new long[] {rows, cols}, f(v));
        }

        static T vector(double... v) {
            return new T(new long[] {v.length}, f(v));
        }
    }

    static float[] f(double... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }

    /** Writes {@code tensors} (in order) as the F32 checkpoint {@code dir/model.safetensors}. */
    static Path model(Path dir, Map<String, T> tensors) {
        List<SafetensorsWriter.TensorData> data = new ArrayList<>();
        tensors.forEach((name, t) -> data.add(SafetensorsWriter.TensorData.ofFloats(name, DType.F32, t.shape(), t.values())));
        org.apache.hadoop.fs.Path p = HadoopFs.of(dir);
        SafetensorsWriter.write(HadoopFs.get(p, CONF), p, data, Long.MAX_VALUE, Map.of("format", "pt"));
        return dir;
    }

    /** A PEFT LoRA adapter (r from A's rows, alpha given) on the listed modules: module -> {A [r, in], B [out, r]}. */
    static Path adapter(Path dir, double alpha, Map<String, T[]> modules) {
        try {
            Files.createDirectories(dir);
            int r = (int) modules.values().iterator().next()[0].shape()[0];
            List<String> names = modules.keySet().stream().map(m -> "\"" + m.substring(m.lastIndexOf('.') + 1) + "\"")
                    .distinct().toList();
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": " + r
                    + ", \"lora_alpha\": " + alpha + ", \"target_modules\": " + names + ", \"bias\": \"none\"}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<SafetensorsWriter.TensorData> data = new ArrayList<>();
        modules.forEach((m, ab) -> {
            data.add(SafetensorsWriter.TensorData.ofFloats("base_model.model." + m + ".lora_A.weight", DType.F32,
                    ab[0].shape(), ab[0].values()));
            data.add(SafetensorsWriter.TensorData.ofFloats("base_model.model." + m + ".lora_B.weight", DType.F32,
                    ab[1].shape(), ab[1].values()));
        });
        org.apache.hadoop.fs.Path f = HadoopFs.of(dir.resolve("adapter_model.safetensors"));
        SafetensorsWriter.writeFile(HadoopFs.get(f, CONF), f, data, Map.of("format", "pt"));
        return dir;
    }

    /** Runs {@code yaml} (read from {@code dir/merge.yaml}) into {@code dir/out} on 2 threads. */
    static Path merge(Path dir, String name, String yaml, long seed, PlanOptions options) {
        return merge(dir, name, yaml, seed, options, Progress.NONE);
    }

    /** The merge, its progress (the plan-time analysis', then the units') reported to {@code progress}. */
    static Path merge(Path dir, String name, String yaml, long seed, PlanOptions options, Progress progress) {
        try {
            Path config = dir.resolve(name + ".yaml");
            Files.writeString(config, yaml);
            Path out = dir.resolve(name);
            MergeJob.run(new MergeJob.Request(config.toString(), yaml, out.toString(), seed, false, options,
                    config.toString()), new LocalMergeExecutor(2, CONF, progress), CONF);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path merge(Path dir, String name, String yaml) {
        return merge(dir, name, yaml, 0, PlanOptions.defaults());
    }

    /** Every tensor of a checkpoint. */
    static Map<String, float[]> read(String location) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(location, CONF)) {
            for (String name : c.tensorNames()) {
                out.put(name, c.readFloats(name));
            }
        }
        return out;
    }

    /** The {@code analysis} block of an output's provenance. */
    static JsonNode analysis(Path out) {
        try {
            return new ObjectMapper().readTree(out.resolve(OutputPublisher.PROVENANCE_FILE).toFile()).get("analysis");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bytes of the output's single shard. */
    static byte[] shard(Path out) {
        try {
            return Files.readAllBytes(out.resolve("model.safetensors"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
