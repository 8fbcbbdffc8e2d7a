package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.TensorMerger;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The executor's streamed path (passes over chunks, and chunks of whole rows for DELLA) must write
 * the encoding of the method's whole-tensor merge, for every streamed method, with chunks that cut
 * tensors mid-block and mid-row.
 */
class StreamedPathTest {
    private static final long SEED = 7;

    @TempDir
    Path tmp;

    final Configuration conf = new Configuration();

    @Test
    void streamedMethodsWriteTheirWholeTensorMerge() {
        SyntheticModels.Shape shape = new SyntheticModels.Shape(2, 64, 96, 4, 2, 300);
        String base = tmp.resolve("base").toString();
        String tune = tmp.resolve("tune").toString();
        String other = tmp.resolve("other").toString();
        SyntheticModels.writeBase(base, shape, DType.BF16, 1, 1 << 20, conf);
        SyntheticModels.writeFineTune(tune, shape, DType.BF16, 1, 2, 0.01, 1 << 20, conf);
        SyntheticModels.writeFineTune(other, shape, DType.BF16, 1, 3, 0.01, 1 << 20, conf);
        String two = "  - {model: %s, parameters: {weight: 0.6, density: %s}}\n".formatted(tune, "0.4")
                + "  - {model: %s, parameters: {weight: 0.5, density: %s}}\n".formatted(other, "0.7");
        String[] configs = {
            "merge_method: ties\nbase_model: %s\nmodels:\n%s".formatted(base, two),
            // One fine-tune: elected as it is merged (TaskVectorCombiner.electOne), plain and with the
            // inverse-density rescale.
            "merge_method: ties\nbase_model: %s\nmodels: [{model: %s, parameters: {weight: 0.8, density: 0.3}}]\n"
                    .formatted(base, tune),
            ("merge_method: ties\nbase_model: %s\nmodels: [{model: %s, parameters: {weight: 0.8, density: 0.3}}]\n"
                    + "parameters: {rescale: true, rescale_mode: inverse_density, lambda: 0.7}\n").formatted(base, tune),
            "merge_method: dare_ties\nbase_model: %s\nmodels:\n%s".formatted(base, two),
            "merge_method: breadcrumbs_ties\nbase_model: %s\nmodels:\n%sparameters: {gamma: 0.05}\n".formatted(base, two),
            "merge_method: della\nbase_model: %s\nmodels:\n%sparameters: {epsilon: 0.1}\n".formatted(base, two),
            "merge_method: della_linear\nbase_model: %s\nmodels:\n%sparameters: {epsilon: 0.2, rescale_mode: inverse_density}\n"
                    .formatted(base, two),
            "merge_method: slerp\nbase_model: %s\nmodels: [{model: %s}]\nparameters: {t: 0.4}\n".formatted(base, tune),
            "merge_method: model_stock\nbase_model: %s\nmodels: [{model: %s}, {model: %s}]\nparameters: {filter_wise: true}\n"
                    .formatted(base, tune, other),
            "merge_method: ramplus_tl\nbase_model: %s\nmodels: [{model: %s}, {model: %s}]\nparameters: {epsilon: 0.005}\n"
                    .formatted(base, tune, other),
            "merge_method: arcee_fusion\nbase_model: %s\nmodels: [{model: %s}]\n".formatted(base, tune),
            "merge_method: sce\nbase_model: %s\nmodels: [{model: %s}, {model: %s}]\nparameters: {select_topk: 0.3}\n"
                    .formatted(base, tune, other),
        };
        for (int i = 0; i < configs.length; i++) {
            String out = tmp.resolve("out" + i).toString();
            // Chunks of 5000 elements cut tensors mid-block; rows of 64 and 96 (DELLA, Arcee Fusion) make them 4992.
            MergeJob.run(new MergeJob.Request("streamed", configs[i], out, SEED, false,
                    PlanOptions.defaults().withChunkElements(5000).withMaxUnitBytes(40_000)),
                    new LocalMergeExecutor(2, conf, Progress.NONE), conf);
            assertWholeTensorMerge(configs[i], shape.layers(), out);
        }
    }

    private void assertWholeTensorMerge(String yaml, int layers, String merged) {
        MergeConfig config = MergeConfig.parse(yaml, "test");
        TensorMerger merger = TensorMerger.create(config, layers);
        int streamed = 0;
        try (Checkpoint m = Checkpoint.open(merged, conf)) {
            for (String name : m.tensorNames()) {
                TensorInfo t = m.info(name);
                Map<String, float[]> inputs = new LinkedHashMap<>();
                for (String model : config.inputModels()) {
                    try (Checkpoint in = Checkpoint.open(model, conf)) {
                        inputs.put(model, in.readFloats(name));
                    }
                }
                if (merger.streamed(name, t.shape(), SEED) != null) {
                    streamed++;
                }
                float[] expected = merger.merge(name, t.shape(), 0, inputs, SEED);
                ByteBuffer want = ByteBuffer.allocate(Math.toIntExact(t.byteLength()));
                TensorCodec.encode(t.dtype(), expected, 0, expected.length, want);
                assertArrayEquals(want.array(), m.readRaw(name, 0, Math.toIntExact(t.byteLength())),
                        config.mergeMethod() + " " + name);
            }
        }
        assertTrue(streamed > 0, yaml + ": no tensor took the streamed path");
    }
}
