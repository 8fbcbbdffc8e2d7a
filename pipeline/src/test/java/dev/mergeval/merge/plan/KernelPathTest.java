package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Progress;
import dev.mergeval.lora.LocalExtractExecutor;
import dev.mergeval.lora.LoraExtraction;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The element-wise kernel path reads stored bytes and decodes them itself, in blocks; its output
 * must be the encoding of the kernel applied to each input's floats as {@link Checkpoint#readFloats}
 * gives them: for checkpoint files, and for a {@code BASE+ADAPTER} input, whose floats are computed
 * on load.
 */
class KernelPathTest {

    private static final double W0 = 0.3;
    private static final double W1 = 0.7;

    @TempDir
    Path tmp;

    final Configuration conf = new Configuration();

    @Test
    void fileInputsAndAdaptedInputsMergeToTheEncodedKernelOfTheirFloats() {
        SyntheticModels.Shape shape = new SyntheticModels.Shape(2, 64, 96, 4, 2, 300);
        String base = tmp.resolve("base").toString();
        String tune = tmp.resolve("tune").toString();
        SyntheticModels.writeBase(base, shape, DType.BF16, 1, 1 << 20, conf);
        SyntheticModels.writeFineTune(tune, shape, DType.BF16, 1, 2, 0.01, 1 << 20, conf);
        String adapter = tmp.resolve("adapter").toString();
        LoraExtraction.run(LoraExtraction.Request.of(tune, base, 4, adapter),
                new LocalExtractExecutor(2, conf, Progress.NONE), conf);

        for (String second : new String[] {tune, base + "+" + adapter}) {
            Path out = tmp.resolve("out-" + (second.contains("+") ? "adapted" : "files"));
            String yaml = """
                    merge_method: linear
                    models:
                      - model: %s
                        parameters: {weight: %s}
                      - model: "%s"
                        parameters: {weight: %s}
                    """.formatted(base, W0, second, W1);
            // Chunks of 5000 elements cut tensors mid-block and end on partial blocks.
            MergeJob.run(new MergeJob.Request("kernel", yaml, out.toString(), 0, false,
                    PlanOptions.defaults().withChunkElements(5000).withMaxUnitBytes(40_000)),
                    new LocalMergeExecutor(2, conf, Progress.NONE), conf);
            assertMergedIsKernelOfFloats(base, second, out.toString());
        }
    }

    private void assertMergedIsKernelOfFloats(String first, String second, String merged) {
        int changed = 0;
        try (Checkpoint a = Checkpoint.open(first, conf); Checkpoint b = Checkpoint.open(second, conf);
                Checkpoint m = Checkpoint.open(merged, conf)) {
            for (String name : m.tensorNames()) {
                TensorInfo t = m.info(name);
                float[] x = a.readFloats(name);
                float[] y = b.readFloats(name);
                float[] expected = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    double acc = 0.0;
                    acc += W0 * x[i];
                    acc += W1 * y[i];
                    expected[i] = (float) acc;
                }
                ByteBuffer want = ByteBuffer.allocate(Math.toIntExact(t.byteLength()));
                TensorCodec.encode(t.dtype(), expected, 0, expected.length, want);
                assertArrayEquals(want.array(), m.readRaw(name, 0, Math.toIntExact(t.byteLength())), name);
                if (!Arrays.equals(x, y)) {
                    changed++;
                }
            }
        }
        assertTrue(changed > 0, "the second input differs from the first");
    }
}
