package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/**
 * {@code slices:} configs through {@code mergeval merge}: mergekit's own
 * {@code examples/gradient-slerp.yml} and the project's {@code conf/merges} examples, each in one
 * JVM and on Spark {@code local[2]} (tensors spread over executors), with the same bytes, and the
 * gradient example also equal to its {@code models:} form; and sliced merges cut into many small
 * units on Spark.
 */
class SlicesMergeCommandTest {

    private static final Configuration CONF = new Configuration();

    /** mergekit's examples/gradient-slerp.yml as published, its two model names replaced by %s. */
    private static final String MERGEKIT_GRADIENT_SLERP = """
            slices:
              - sources:
                  - model: %1$s
                    layer_range: [0, 40]
                  - model: %2$s
                    layer_range: [0, 40]
            # or, the equivalent models: syntax:
            # models:
            #   - model: psmathur/orca_mini_v3_13b
            #   - model: garage-bAInd/Platypus2-13B
            merge_method: slerp
            base_model: %1$s
            parameters:
              t:
                - filter: self_attn
                  value: [0, 0.5, 0.3, 0.7, 1]
                - filter: mlp
                  value: [1, 0.5, 0.7, 0.3, 0]
                - value: 0.5 # fallback for rest of tensors
            dtype: float16
            """;

    @Test
    void mergekitGradientSlerpExampleRunsOnOneJvmAndOnSparkAsItsModelsForm() throws Exception {
        Path work = ProjectLayout.scratch("slices-mergekit-");
        // 40 layers, as the example's layer_range says; small enough to merge in seconds.
        SyntheticModels.Shape shape = new SyntheticModels.Shape(40, 32, 64, 4, 2, 128);
        String orca = work.resolve("orca_mini_v3_13b").toString();
        String platypus = work.resolve("Platypus2-13B").toString();
        SyntheticModels.writeBase(orca, shape, DType.BF16, 1, 256 << 10, CONF);
        SyntheticModels.writeFineTune(platypus, shape, DType.BF16, 1, 2, 0.01, 256 << 10, CONF);
        Path config = work.resolve("gradient-slerp.yml");
        Files.writeString(config, MERGEKIT_GRADIENT_SLERP.formatted(orca, platypus));
        Path modelsForm = work.resolve("gradient-slerp-models.yml");
        Files.writeString(modelsForm, """
                models:
                  - model: %1$s
                  - model: %2$s
                merge_method: slerp
                base_model: %1$s
                parameters:
                  t:
                    - filter: self_attn
                      value: [0, 0.5, 0.3, 0.7, 1]
                    - filter: mlp
                      value: [1, 0.5, 0.7, 0.3, 0]
                    - value: 0.5
                dtype: float16
                """.formatted(orca, platypus));
        Map<String, String> single = MergeFixtures.mergeCommand(config, work.resolve("single"), "--threads", "2");
        assertEquals(single, MergeFixtures.mergeCommand(config, work.resolve("spark"), "--master", "local[2]"));
        assertEquals(single, MergeFixtures.mergeCommand(modelsForm, work.resolve("models-form"),
                "--threads", "1"));
        JsonNode out = Mappers.JSON.readTree(work.resolve("spark/config.json").toFile());
        assertEquals(40, out.get("num_hidden_layers").asInt());
        assertEquals("float16", out.get("torch_dtype").asText());
    }

    @Test
    void confMergeExamplesRunOnOneJvmAndOnSpark() throws Exception {
        Path work = ProjectLayout.scratch("slices-conf-");
        Path root = ProjectLayout.root();
        for (String example : new String[] {"gradient-slerp", "frankenmerge"}) {
            // The examples name the toy models relative to the repository root, where they are run.
            String yaml = Files.readString(root.resolve("conf/merges/" + example + ".yml"))
                    .replace("models/toy/", root.resolve("models/toy") + "/");
            Path config = work.resolve(example + ".yml");
            Files.writeString(config, yaml);
            Map<String, String> single = MergeFixtures.mergeCommand(config, work.resolve(example + "-single"),
                    "--threads", "1");
            assertEquals(single, MergeFixtures.mergeCommand(config, work.resolve(example + "-spark"),
                    "--master", "local[2]"), example);
            JsonNode out = Mappers.JSON.readTree(work.resolve(example + "-spark/config.json").toFile());
            assertEquals(example.equals("frankenmerge") ? 6 : 5, out.get("num_hidden_layers").asInt(), example);
        }
    }

    /**
     * A {@code modules:} config (a generated Mistral 3 layout: a text-decoder frankenmerge with
     * gradients, the vision tower kept, the projector merged) through the CLI in one JVM and on
     * Spark {@code local[2]}: the same bytes, the plan's laid-out modules travelling to the executors.
     */
    @Test
    void aModulesConfigRunsOnOneJvmAndOnSpark() throws Exception {
        Path work = ProjectLayout.scratch("modules-");
        String a = work.resolve("a").toString();
        String b = work.resolve("b").toString();
        SyntheticModels.writeVisionLanguage(a, 4, 3, 1, CONF);
        SyntheticModels.writeVisionLanguage(b, 4, 3, 2, CONF);
        Path config = work.resolve("modules.yml");
        Files.writeString(config, """
                merge_method: slerp
                base_model: %1$s
                parameters: {t: 0.5}
                modules:
                  text_decoder:
                    slices:
                      - sources: [{model: %1$s, layer_range: [0, 3]}, {model: %2$s, layer_range: [0, 3]}]
                        parameters: {t: [0, 1]}
                      - sources: [{model: %1$s, layer_range: [2, 4]}, {model: %2$s, layer_range: [2, 4]}]
                  vision_tower:
                    models: [{model: %1$s}, {model: %2$s}]
                    parameters: {t: 0}
                  multi_modal_projector:
                    models: [{model: %2$s}]
                """.formatted(a, b));
        Map<String, String> single = MergeFixtures.mergeCommand(config, work.resolve("single"), "--threads", "2");
        assertEquals(single, MergeFixtures.mergeCommand(config, work.resolve("spark"), "--master", "local[2]"));
        JsonNode out = Mappers.JSON.readTree(work.resolve("spark/config.json").toFile());
        assertEquals(5, out.at("/text_config/num_hidden_layers").asInt());
        assertEquals(3, out.at("/vision_config/num_hidden_layers").asInt());
    }

    /**
     * Small units (16 KiB of output, embeddings split into row ranges) spread over two executors:
     * a frankenmerge and a gradient SLERP over two slices write the single-JVM bytes.
     */
    @Test
    void slicedMergesSpreadOverSparkExecutorsWriteTheSingleJvmBytes() {
        Path work = ProjectLayout.scratch("slices-spark-");
        MergeFixtures.Pair pair = MergeFixtures.write(work.resolve("models").toString(), MergeFixtures.SHAPE, CONF);
        Map<String, String> configs = Map.of("frankenmerge", """
                merge_method: passthrough
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 3]}]
                  - sources: [{model: %2$s, layer_range: [1, 4]}]
                dtype: bfloat16
                """.formatted(pair.base(), pair.tune()), "gradient-slerp", """
                merge_method: slerp
                base_model: %1$s
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}, {model: %2$s, layer_range: [0, 2]}]
                  - sources: [{model: %1$s, layer_range: [2, 4]}, {model: %2$s, layer_range: [2, 4]}]
                parameters: {t: [{filter: mlp, value: [0, 1]}, {value: 0.3}]}
                """.formatted(pair.base(), pair.tune()));
        JavaSparkContext sc = new JavaSparkContext(SparkTestConf.base("slices").setMaster("local[2]"));
        try {
            SparkMergeExecutor spark = new SparkMergeExecutor(sc, Progress.NONE);
            configs.forEach((name, yaml) -> {
                String single = work.resolve(name + "-single").toString();
                String distributed = work.resolve(name + "-spark").toString();
                MergeJob.run(MergeFixtures.request(yaml, single), new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
                MergeJob.Outcome outcome = MergeJob.run(MergeFixtures.request(yaml, distributed), spark, CONF);
                assertTrue(outcome.plan().units().size() >= 10, name + ": enough units to spread");
                Map<String, String> hashes = MergeFixtures.shardHashes(single, CONF);
                assertTrue(hashes.size() >= 2, name + ": several shards " + hashes);
                assertEquals(hashes, MergeFixtures.shardHashes(distributed, CONF), name);
            });
        } finally {
            sc.stop();
        }
    }
}
