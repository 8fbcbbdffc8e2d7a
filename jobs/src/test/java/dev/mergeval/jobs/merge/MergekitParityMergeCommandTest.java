package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.merge.plan.MergeJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/**
 * The seven methods added for mergekit parity (sce, karcher, multislerp, nearswap, arcee_fusion, ram,
 * ramplus_tl) end to end: {@code mergeval merge} on generated float32 checkpoints (a base and three
 * fine-tunes), small units so that the element-wise ones are merged in chunks; each output tensor
 * equal to the method applied to the whole input tensors; and the Spark executor on local[2]
 * writing the same bytes.
 */
class MergekitParityMergeCommandTest {

    private static final Configuration CONF = new Configuration();
    private static final String PROBE = "model.layers.1.self_attn.q_proj.weight";

    @Test
    void everyNewMethodMergesThroughTheCliAndOnSpark() throws Exception {
        Path work = ProjectLayout.scratch("parity-");
        Path models = work.resolve("models");
        SyntheticModels.Shape shape = MergeFixtures.SHAPE;
        String base = models.resolve("base").toString();
        SyntheticModels.writeBase(base, shape, DType.F32, 7, 96 << 10, CONF);
        String[] tunes = new String[3];
        for (int k = 0; k < 3; k++) {
            tunes[k] = models.resolve("tune" + k).toString();
            SyntheticModels.writeFineTune(tunes[k], shape, DType.F32, 7, 11 + k, 0.01 * (k + 1), 96 << 10, CONF);
        }
        Map<String, String> configs = configs(base, tunes);
        String shard = Long.toString(MergeFixtures.OPTIONS.maxShardBytes());
        Map<String, Map<String, String>> single = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : configs.entrySet()) {
            Path yaml = work.resolve(e.getKey() + ".yaml");
            Files.writeString(yaml, e.getValue());
            String out = work.resolve(e.getKey() + "-cli").toString();
            assertEquals(0, MergevalCli.run("merge", yaml.toString(), out, "--threads", "2", "--max-shard-size", shard),
                    e.getKey());
            single.put(e.getKey(), MergeFixtures.shardHashes(out, CONF));
            JsonNode provenance = Mappers.JSON.readTree(Path.of(out, OutputPublisher.PROVENANCE_FILE).toFile());
            assertTrue(provenance.toString().contains(e.getKey()), e.getKey() + " in the provenance");
            checkProbe(e.getValue(), out, shape.layers());
        }
        JavaSparkContext sc = new JavaSparkContext(SparkTestConf.base("parity").setMaster("local[2]"));
        try {
            SparkMergeExecutor spark = new SparkMergeExecutor(sc, Progress.NONE);
            for (Map.Entry<String, String> e : configs.entrySet()) {
                String out = work.resolve(e.getKey() + "-spark").toString();
                MergeJob.run(MergeFixtures.request(e.getValue(), out), spark, CONF);
                assertEquals(single.get(e.getKey()), MergeFixtures.shardHashes(out, CONF), e.getKey() + " on local[2]");
            }
        } finally {
            sc.stop();
        }
    }

    /** One matrix of the output against the method applied directly to the whole input tensors. */
    private static void checkProbe(String yaml, String out, int layers) {
        MergeConfig config = MergeConfig.parse(yaml, "probe.yaml");
        Map<String, float[]> inputs = new LinkedHashMap<>();
        long[] shape;
        try (Checkpoint merged = Checkpoint.open(out, CONF)) {
            for (String model : config.inputModels()) {
                try (Checkpoint in = Checkpoint.open(model, CONF)) {
                    inputs.put(model, in.readFloats(PROBE));
                }
            }
            shape = merged.info(PROBE).shape();
            float[] expected = TensorMerger.create(config, layers).merge(PROBE, shape, 0, inputs, 42L);
            float[] actual = merged.readFloats(PROBE);
            assertArrayEquals(expected, actual, config.mergeMethod());
            for (Map.Entry<String, float[]> input : inputs.entrySet()) {
                assertFalse(Arrays.equals(input.getValue(), actual), config.mergeMethod() + " returned " + input.getKey());
            }
        }
    }

    private static Map<String, String> configs(String base, String[] t) {
        String three = "models:\n  - model: %s\n  - model: %s\n  - model: %s\n".formatted(t[0], t[1], t[2]);
        Map<String, String> c = new LinkedHashMap<>();
        c.put("sce", "merge_method: sce\nbase_model: " + base + "\n" + three + "parameters: {select_topk: 0.5}\n");
        c.put("karcher", "merge_method: karcher\n" + three);
        c.put("multislerp", "merge_method: multislerp\nbase_model: " + base + "\nmodels:\n"
                + "  - {model: %s, parameters: {weight: 0.5}}\n  - {model: %s, parameters: {weight: 0.3}}\n"
                        .formatted(t[0], t[1])
                + "  - {model: %s, parameters: {weight: 0.2}}\n".formatted(t[2]));
        c.put("nearswap", "merge_method: nearswap\nbase_model: " + base + "\nmodels:\n  - model: " + t[0]
                + "\nparameters: {t: 0.005}\n");
        c.put("arcee_fusion", "merge_method: arcee_fusion\nbase_model: " + base + "\nmodels:\n  - model: " + t[1] + "\n");
        c.put("ram", "merge_method: ram\nbase_model: " + base + "\n" + three + "parameters: {epsilon: 0.01}\n");
        c.put("ramplus_tl", "merge_method: ramplus_tl\nbase_model: " + base + "\n" + three
                + "parameters: {epsilon: 0.01, r: 0.5, alpha: 1.0}\n");
        return c;
    }
}
