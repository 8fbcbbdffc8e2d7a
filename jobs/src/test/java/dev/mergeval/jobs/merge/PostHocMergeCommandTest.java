package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * {@code mergeval merge} with the post-hoc safety methods on the project's toy pair, with the
 * pre-alignment stories260K weights ({@code ../shared}) as the unaligned model and a few training
 * refusals as the safety data, both given relative to the config file: the single-JVM path and
 * Spark write the same bytes.
 */
class PostHocMergeCommandTest {

    private static final Configuration CONF = new Configuration();

    @Test
    void safeLoraAndRestaOnTheToyPairLocallyAndOnSpark() throws Exception {
        Path stories = ProjectLayout.shared().map(s -> s.resolve("models/stories260K")).orElse(null);
        assumeTrue(stories != null && Files.isDirectory(stories),
                "../shared/models/stories260K not found: skipping the post-hoc merges that need it");
        Path root = ProjectLayout.root();
        Path aligned = root.resolve("models/toy/aligned");
        Path finetuned = root.resolve("models/toy/finetuned");
        Path work = ProjectLayout.scratch("posthoc-");
        Path configs = Files.createDirectories(work.resolve("configs"));
        String unaligned = configs.relativize(stories).toString();

        JsonNode safe = run(work, configs, "safe_lora", aligned, finetuned,
                "  unaligned_model: " + unaligned + "\n  num_proj_layers: 6\n");
        JsonNode analysis = safe.get("analysis");
        assertEquals(35, analysis.get("target_matrices").asInt(), "seven projections in five layers");
        assertTrue(analysis.get("projected_matrices").asInt() >= 6, analysis.toString());
        JsonNode unalignedInput = safe.get("inputs").get(2);
        assertEquals("unaligned_model", unalignedInput.get("parameter").asText());
        assertEquals(stories.toUri().toString().replaceAll("/$", ""), unalignedInput.get("uri").asText().replaceAll("/$", ""));
        try (Checkpoint out = Checkpoint.open(work.resolve("safe_lora-local").toString(), CONF);
                Checkpoint tuned = Checkpoint.open(finetuned.toString(), CONF)) {
            int changed = 0;
            for (String name : out.tensorNames()) {
                JsonNode d = analysis.get("tensors").get(name);
                boolean same = Arrays.equals(tuned.readFloats(name), out.readFloats(name));
                assertEquals(d == null || !d.get("projected").asBoolean(), same, name);
                changed += same ? 0 : 1;
            }
            assertEquals(analysis.get("projected_matrices").asInt(), changed);
        }

        run(work, configs, "resta", aligned, finetuned, "  unaligned_model: " + unaligned + "\n  scale: 0.25\n");
        String q = "model.layers.2.self_attn.q_proj.weight";
        try (Checkpoint out = Checkpoint.open(work.resolve("resta-local").toString(), CONF);
                Checkpoint a = Checkpoint.open(aligned.toString(), CONF);
                Checkpoint u = Checkpoint.open(stories.toString(), CONF);
                Checkpoint p = Checkpoint.open(finetuned.toString(), CONF)) {
            float[] pa = a.readFloats(q);
            float[] pu = u.readFloats(q);
            float[] pp = p.readFloats(q);
            float[] expected = new float[pa.length];
            for (int i = 0; i < pa.length; i++) {
                expected[i] = (float) (pp[i] + 0.25 * (pa[i] - pu[i]));
            }
            assertArrayEquals(expected, out.readFloats(q));
            assertFalse(Arrays.equals(pp, expected), "the safety vector is not zero");
        }
    }

    @Test
    void spfProjectOnTheToyPairLocallyAndOnSpark() throws Exception {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("posthoc-spf-");
        Path configs = Files.createDirectories(work.resolve("configs"));
        try (var lines = Files.lines(root.resolve("data/toy/alignment-train.jsonl"))) {
            Files.write(configs.resolve("refusals.jsonl"), lines.filter(l -> l.contains("\"kind\":\"harmful\"")).limit(8).toList());
        }
        JsonNode provenance = run(work, configs, "spf_project", root.resolve("models/toy/aligned"),
                root.resolve("models/toy/finetuned"), "  safety_data: refusals.jsonl\n  rank: 8\n");
        JsonNode analysis = provenance.get("analysis");
        assertEquals(35, analysis.get("projection_matrices").asInt());
        int conflicts = analysis.get("conflicting_matrices").asInt();
        assertTrue(conflicts > 0, analysis.toString());
        long conflicting = 0;
        for (JsonNode d : analysis.get("tensors")) {
            boolean conflict = d.get("conflict").asBoolean();
            assertEquals(conflict, d.get("inner").asDouble() > 0);
            assertEquals(conflict, d.get("removed_norm_share").asDouble() > 0);
            conflicting += conflict ? 1 : 0;
        }
        assertEquals(conflicts, conflicting);
    }

    /**
     * Merges with the CLI on threads and on local[2] (where the analysis' per-tensor work runs as
     * Spark tasks, {@link SparkAnalysisRunner}); checks that both write the same bytes from the same
     * analysis; returns the provenance.
     */
    private static JsonNode run(Path work, Path configs, String method, Path aligned, Path finetuned,
            String parameters) throws Exception {
        Path config = configs.resolve(method + ".yaml");
        Files.writeString(config, "merge_method: " + method + "\nbase_model: " + aligned + "\nmodels:\n  - model: "
                + finetuned + "\nparameters:\n" + parameters);
        String local = work.resolve(method + "-local").toString();
        String spark = work.resolve(method + "-spark").toString();
        assertEquals(0, MergevalCli.run("merge", config.toString(), local, "--threads", "2"));
        assertEquals(0, MergevalCli.run("merge", config.toString(), spark, "--master", "local[2]"));
        assertEquals(MergeFixtures.shardHashes(local, CONF), MergeFixtures.shardHashes(spark, CONF), method);
        JsonNode onSpark = new ObjectMapper().readTree(Path.of(spark, OutputPublisher.PROVENANCE_FILE).toFile());
        assertEquals(new ObjectMapper().readTree(Path.of(local, OutputPublisher.PROVENANCE_FILE).toFile()).get("analysis"),
                onSpark.get("analysis"), method + ": the analysis on Spark tasks is the single JVM's");
        return onSpark;
    }
}
