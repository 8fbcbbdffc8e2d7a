package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Mappers;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * {@code slices:} configs through {@code mergeval merge}: mergekit's own
 * {@code examples/gradient-slerp.yml} and the project's {@code conf/merges} examples, each in one
 * JVM and on Spark {@code local[2]} (tensors spread over executors), with the same bytes, and the
 * gradient example also equal to its {@code models:} form.
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
        Map<String, String> single = merge(config, work.resolve("single"), "--threads", "2");
        assertEquals(single, merge(config, work.resolve("spark"), "--master", "local[2]"));
        assertEquals(single, merge(modelsForm, work.resolve("models-form"), "--threads", "1"));
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
            Map<String, String> single = merge(config, work.resolve(example + "-single"), "--threads", "1");
            assertEquals(single, merge(config, work.resolve(example + "-spark"), "--master", "local[2]"), example);
            JsonNode out = Mappers.JSON.readTree(work.resolve(example + "-spark/config.json").toFile());
            assertEquals(example.equals("frankenmerge") ? 6 : 5, out.get("num_hidden_layers").asInt(), example);
        }
    }

    /** Runs {@code mergeval merge CONFIG OUT ARGS...} (exit 0) and returns the output's shard hashes. */
    private static Map<String, String> merge(Path config, Path out, String... args) {
        String[] argv = new String[3 + args.length];
        argv[0] = "merge";
        argv[1] = config.toString();
        argv[2] = out.toString();
        System.arraycopy(args, 0, argv, 3, args.length);
        assertEquals(0, MergevalCli.run(argv), String.join(" ", argv));
        Map<String, String> hashes = MergeFixtures.shardHashes(out.toString(), CONF);
        assertTrue(!hashes.isEmpty(), "shards in " + out);
        return hashes;
    }
}
