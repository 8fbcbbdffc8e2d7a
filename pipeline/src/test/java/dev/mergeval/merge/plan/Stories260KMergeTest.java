package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real stories260K checkpoint, merged with perturbed copies of itself, written and re-read. */
class Stories260KMergeTest {

    private static final Configuration CONF = new Configuration();

    @Test
    void taskArithmeticOnTheRealCheckpointRoundTrips(@TempDir Path tmp) throws IOException {
        Path stories = TestModels.stories260K();
        Path tuneA = perturbedCopy(stories, tmp.resolve("tune-a"), 11);
        Path tuneB = perturbedCopy(stories, tmp.resolve("tune-b"), 12);
        String yaml = """
                merge_method: task_arithmetic
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 0.7}
                  - model: %s
                    parameters: {weight: 0.2}
                dtype: float32
                out_dtype: bfloat16
                tokenizer_source: base
                """.formatted(stories, tuneA, tuneB);
        Path out = tmp.resolve("merged");
        MergeJob.run(new MergeJob.Request("stories.yaml", yaml, out.toString(), 0, false,
                PlanOptions.defaults().withMaxShardBytes(300_000)), new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);

        try (Checkpoint base = Checkpoint.open(stories.toString(), CONF);
                Checkpoint a = Checkpoint.open(tuneA.toString(), CONF);
                Checkpoint b = Checkpoint.open(tuneB.toString(), CONF);
                Checkpoint merged = Checkpoint.open(out.toString(), CONF)) {
            assertEquals(base.tensorNames().size(), merged.tensorNames().size());
            assertTrue(merged.shardFiles().size() > 1, "a 300 kB shard limit shards the output");
            for (String name : base.tensorNames()) {
                TensorInfo info = merged.info(name);
                assertEquals(DType.BF16, info.dtype(), name);
                float[] x = base.readFloats(name);
                float[] y = a.readFloats(name);
                float[] z = b.readFloats(name);
                float[] m = merged.readFloats(name);
                for (int i = 0; i < x.length; i++) {
                    float expected = x[i] + 0.7f * (y[i] - x[i]) + 0.2f * (z[i] - x[i]);
                    // One BF16 rounding of the float32 result: relative error below 2^-8.
                    assertEquals(expected, m[i], Math.abs(expected) * 0x1p-8 + 1e-30, name + "[" + i + "]");
                }
            }
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("bfloat16", config.get("torch_dtype").asText());
        assertEquals(Files.readString(stories.resolve("tokenizer.json")), Files.readString(out.resolve("tokenizer.json")));
        assertTrue(Files.exists(out.resolve("generation_config.json")));
    }

    static Path perturbedCopy(Path source, Path target, long seed) {
        SyntheticModels.perturbedCopy(source.toString(), target.toString(), seed, 0.01, CONF);
        return target;
    }
}
