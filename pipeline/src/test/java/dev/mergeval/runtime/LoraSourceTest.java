package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code BASE+ADAPTER} as a model source equals a directory holding the explicitly merged weights
 * {@code W + (alpha / r) * B @ A}, computed here in double precision.
 */
class LoraSourceTest {

    private static final Configuration CONF = new Configuration();
    private static final String MODULE = "model.layers.3.mlp.down_proj";

    @Test
    void adapterSourceEqualsExplicitlyMergedWeights(@TempDir Path tmp) throws IOException {
        Path base = TestModels.stories260K();
        Path adapter = tmp.resolve("adapter");
        Path merged = tmp.resolve("merged");
        int r = 4;
        double alpha = 8;
        try (Checkpoint ckpt = Checkpoint.open(base.toString(), CONF)) {
            TensorInfo w = ckpt.info(MODULE + ".weight");
            int out = (int) w.shape()[0];
            int in = (int) w.shape()[1];
            SplittableRandom random = new SplittableRandom(5);
            float[] a = new float[r * in];
            float[] b = new float[out * r];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (random.nextDouble() - 0.5);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) (random.nextDouble() - 0.5);
            }
            Files.createDirectories(adapter);
            Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": " + r
                    + ", \"lora_alpha\": " + alpha + ", \"target_modules\": [\"down_proj\"], \"bias\": \"none\"}");
            FileSystem fs = FileSystem.getLocal(CONF);
            SafetensorsWriter.writeFile(fs, new org.apache.hadoop.fs.Path(adapter.resolve("adapter_model.safetensors").toUri()),
                    List.of(SafetensorsWriter.TensorData.ofFloats("base_model.model." + MODULE + ".lora_A.weight",
                                    DType.F32, new long[] {r, in}, a),
                            SafetensorsWriter.TensorData.ofFloats("base_model.model." + MODULE + ".lora_B.weight",
                                    DType.F32, new long[] {out, r}, b)), Map.of());

            List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
            for (String name : ckpt.tensorNames()) {
                float[] v = ckpt.readFloats(name);
                if (name.equals(MODULE + ".weight")) {
                    for (int o = 0; o < out; o++) {
                        for (int i = 0; i < in; i++) {
                            double delta = 0;
                            for (int k = 0; k < r; k++) {
                                delta += (double) b[o * r + k] * a[k * in + i];
                            }
                            v[o * in + i] = (float) (v[o * in + i] + alpha / r * delta);
                        }
                    }
                }
                TensorInfo t = ckpt.info(name);
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(), v));
            }
            SafetensorsWriter.write(fs, new org.apache.hadoop.fs.Path(merged.toUri()), tensors, Long.MAX_VALUE,
                    Map.of("format", "pt"));
            ModelFiles.copyAuxiliary(base.toString(), merged.toString(), DType.F32, CONF);
        }
        RuntimeOptions cpu = RuntimeOptions.cpu();
        LogLikelihoodRequest probe = new LogLikelihoodRequest("Once upon a time", " there was a little girl");
        try (LanguageModel lora = ModelSources.load(ModelSource.parse(base + "+" + adapter, CONF), CONF, cpu);
                LanguageModel explicit = ModelSources.load(ModelSource.parse(merged.toString(), CONF), CONF, cpu);
                LanguageModel plain = ModelSources.load(ModelSource.parse(base.toString(), CONF), CONF, cpu)) {
            double viaAdapter = lora.logLikelihood(List.of(probe)).get(0).logProb();
            assertEquals(explicit.logLikelihood(List.of(probe)).get(0).logProb(), viaAdapter, 1e-4);
            assertNotEquals(plain.logLikelihood(List.of(probe)).get(0).logProb(), viaAdapter, 1e-3,
                    "the adapter changes the model");
            GenerationParams greedy = GenerationParams.greedy(12);
            assertEquals(explicit.generate(List.of("Once upon a time"), greedy).get(0).outputIds(),
                    lora.generate(List.of("Once upon a time"), greedy).get(0).outputIds());
        }
    }
}
