package dev.mergeval.merge.methods;

import static dev.mergeval.merge.methods.PostHocFixtures.f;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.safety.SafetyGradient;
import dev.mergeval.safety.SafetySubspace;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Post-hoc SPF: the projection rule on hand-made matrices, and the whole method on the committed
 * toy pair with a few training refusals as the safety data.
 */
class SpfProjectMergeTest {

    static final int RANK = 4;

    @TempDir
    static Path dir;
    static Path aligned;
    static Path finetuned;

    @BeforeAll
    static void locate() throws IOException {
        Path root = TestModels.projectRoot();
        aligned = root.resolve("models/toy/aligned");
        finetuned = root.resolve("models/toy/finetuned");
        // Eight training harmful requests with their refusal, as SPF's safety samples.
        try (Stream<String> lines = Files.lines(root.resolve("data/toy/alignment-train.jsonl"))) {
            Files.write(dir.resolve("safety.jsonl"),
                    lines.filter(l -> l.contains("\"kind\":\"harmful\"")).limit(8).toList());
        }
    }

    static String yaml(String parameters) {
        return "merge_method: spf_project\nbase_model: " + aligned + "\nmodels:\n  - model: " + finetuned
                + "\nparameters:\n  safety_data: safety.jsonl\n" + parameters;
    }

    /**
     * The rule, by hand: G = [[3,0],[0,1]] at rank 1 spans e1 e1^T, so P(dW) keeps dW's top-left
     * element. dW = [[2,3],[4,5]] has <dW, 3 e1 e1^T> = 6 > 0: y = aligned + [[0,3],[4,5]];
     * dW = [[-2,3],[4,5]] gives -6: y = W_post.
     */
    @Test
    void conflictingUpdateLosesItsSafetyComponentAndOthersAreKept() {
        MergeConfig config = MergeConfig.parse("merge_method: spf_project\nbase_model: a\nmodels:\n  - model: p\n"
                + "parameters:\n  safety_data: s.jsonl\n  rank: 1\n", "test.yaml");
        String name = "model.layers.0.self_attn.q_proj.weight";
        SafetySubspace subspace = SafetySubspace.of(name, f(3, 0, 0, 1), 2, 2, 1);
        float[] a = f(1, 1, 1, 1);
        PlanAnalysis analysis = new PlanAnalysis(Map.of(name, new SpfProjectMerge.Decision(6, subspace.cer(),
                2 / Math.sqrt(54), subspace)), Map.of());
        TensorMerger merger = TensorMerger.create(config, 1, analysis);
        assertFalse(merger.chunkable(name), "a projected matrix is merged whole");
        float[] y = merger.merge(name, new long[] {2, 2}, 0, Map.of("a", a, "p", f(3, 4, 5, 6)), 0);
        assertArrayEquals(f(1, 4, 5, 6), y);
        assertEquals(6, subspace.inner(f(2, 3, 4, 5)), 1e-9);
        assertEquals(-6, subspace.inner(f(-2, 3, 4, 5)), 1e-9);
        PlanAnalysis kept = new PlanAnalysis(Map.of(name, new SpfProjectMerge.Decision(-6, subspace.cer(), 0, null)),
                Map.of());
        TensorMerger keeping = TensorMerger.create(config, 1, kept);
        assertTrue(keeping.chunkable(name));
        assertArrayEquals(f(-1, 4, 5, 6), keeping.merge(name, new long[] {2, 2}, 0, Map.of("a", a, "p", f(-1, 4, 5, 6)), 0));
    }

    /**
     * On the toy pair: the decisions follow the sign of <dW, U_k S_k V_k^T> for a gradient
     * computed independently here; conflicting matrices lose a part of rank <= k, orthogonal to the
     * subspace; the others, and every tensor that is not a projection, are the fine-tune's.
     */
    @Test
    void onTheToyPairConflictingMatricesAreProjectedAndTheRestKept() {
        Path out = PostHocFixtures.merge(dir, "spf", yaml("  rank: " + RANK + "\n"));
        JsonNode analysis = PostHocFixtures.analysis(out);
        assertEquals(RANK, analysis.get("rank").asInt());
        assertEquals("finetuned", analysis.get("gradient_at").asText());
        assertEquals(35, analysis.get("projection_matrices").asInt());
        int conflicts = analysis.get("conflicting_matrices").asInt();
        assertTrue(conflicts > 0 && conflicts < 35, "some matrices conflict, some do not: " + conflicts);

        Map<String, float[]> a = PostHocFixtures.read(aligned.toString());
        Map<String, float[]> p = PostHocFixtures.read(finetuned.toString());
        Map<String, float[]> y = PostHocFixtures.read(out.toString());
        JsonNode tensors = analysis.get("tensors");
        Map<String, float[]> gradient = SafetyGradient.compute(finetuned.toString(), dir.resolve("safety.jsonl").toString(),
                tensors::has, PostHocFixtures.CONF);
        int checked = 0;
        for (String name : y.keySet()) {
            JsonNode d = tensors.get(name);
            if (d == null || !d.get("conflict").asBoolean()) {
                assertArrayEquals(p.get(name), y.get(name), name + " is the fine-tune's");
            }
            if (d == null) {
                continue;
            }
            int rows;
            try (Checkpoint c = Checkpoint.open(aligned.toString(), PostHocFixtures.CONF)) {
                rows = (int) c.info(name).shape()[0];
            }
            int cols = a.get(name).length / rows;
            SafetySubspace s = SafetySubspace.of(name, gradient.get(name), rows, cols, RANK);
            float[] dw = minus(p.get(name), a.get(name));
            assertEquals(s.inner(dw) > 0, d.get("conflict").asBoolean(), name);
            assertEquals(s.inner(dw), d.get("inner").asDouble(), 1e-6 * Math.abs(s.inner(dw)) + 1e-12, name);
            if (!d.get("conflict").asBoolean()) {
                continue;
            }
            float[] removed = minus(p.get(name), y.get(name));
            double[] sv = SafetySubspace.singularValues(removed, rows, cols);
            assertTrue(sv[RANK] <= 1e-4 * sv[0], name + ": the removed part has rank <= " + RANK + ": " + sv[RANK]);
            assertEquals(0, s.inner(minus(y.get(name), a.get(name))), 1e-4 * Math.abs(s.inner(dw)),
                    name + ": nothing left along U S V^T");
            double share = norm(removed) / norm(dw);
            assertEquals(share, d.get("removed_norm_share").asDouble(), 1e-4, name);
            checked++;
        }
        assertEquals(conflicts, checked);
    }

    /** A LoRA fine-tune as {@code ALIGNED+ADAPTER} gives the bytes of the same merge of its merged full form. */
    @Test
    void loraInputEqualsItsMergedFullForm() throws IOException {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(4);
        Map<String, PostHocFixtures.T[]> modules = new java.util.LinkedHashMap<>();
        for (String m : List.of("model.layers.1.self_attn.q_proj", "model.layers.3.mlp.down_proj")) {
            long[] shape;
            try (Checkpoint c = Checkpoint.open(aligned.toString(), PostHocFixtures.CONF)) {
                shape = c.info(m + ".weight").shape();
            }
            modules.put(m, new PostHocFixtures.T[] {gaussian(rnd, 2, shape[1]), gaussian(rnd, shape[0], 2)});
        }
        Path adapter = PostHocFixtures.adapter(dir.resolve("adapter"), 4, modules);
        String lora = aligned + "+" + adapter;
        Path full = dir.resolve("merged-adapter");
        Files.createDirectories(full);
        for (String aux : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            Files.copy(aligned.resolve(aux), full.resolve(aux));
        }
        Map<String, PostHocFixtures.T> tensors = new java.util.LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(lora, PostHocFixtures.CONF)) {
            for (String name : c.tensorNames()) {
                tensors.put(name, new PostHocFixtures.T(c.info(name).shape(), c.readFloats(name)));
            }
        }
        PostHocFixtures.model(full, tensors);
        String viaAdapter = yaml("  rank: 2\n").replace("model: " + finetuned, "model: " + lora);
        String viaFull = yaml("  rank: 2\n").replace("model: " + finetuned, "model: " + full);
        Path a = PostHocFixtures.merge(dir, "spf-lora", viaAdapter);
        Path b = PostHocFixtures.merge(dir, "spf-lora-full", viaFull);
        assertArrayEquals(PostHocFixtures.shard(b), PostHocFixtures.shard(a));
        assertEquals(PostHocFixtures.analysis(b).toString(), PostHocFixtures.analysis(a).toString());
    }

    private static PostHocFixtures.T gaussian(java.util.SplittableRandom rnd, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rnd.nextDouble() - 0.5) * 0.2);
        }
        return new PostHocFixtures.T(new long[] {rows, cols}, v);
    }

    /** Merged on load (gradient computed by the load, then kept by prepare) equals the merge on disk. */
    @Test
    void mergedOnLoadEqualsTheMergeOnDisk() throws IOException {
        Path out = PostHocFixtures.merge(dir, "spf-disk", yaml("  rank: 2\n  gradient_at: aligned\n"));
        String source = "merge:" + dir.resolve("spf-disk.yaml");
        try (DjlLanguageModel disk = LanguageModels.loadDirectory(out.toString(), PostHocFixtures.CONF, RuntimeOptions.cpu())) {
            try (DjlLanguageModel load = (DjlLanguageModel) ModelSources.load(
                    ModelSource.parse(source, PostHocFixtures.CONF), PostHocFixtures.CONF, RuntimeOptions.cpu())) {
                assertSameParameters(disk, load);
            }
            ModelSources.prepare(ModelSource.parse(source, PostHocFixtures.CONF), PostHocFixtures.CONF);
            assertTrue(Files.exists(dir.resolve("spf-disk.yaml.analysis")));
            try (DjlLanguageModel kept = (DjlLanguageModel) ModelSources.load(
                    ModelSource.parse(source, PostHocFixtures.CONF), PostHocFixtures.CONF, RuntimeOptions.cpu())) {
                assertSameParameters(disk, kept);
            }
        }
    }

    private static void assertSameParameters(DjlLanguageModel expected, DjlLanguageModel actual) {
        assertEquals(expected.parameters().keySet(), actual.parameters().keySet());
        expected.parameters().forEach((name, array) ->
                assertArrayEquals(array.toFloatArray(), actual.parameters().get(name).toFloatArray(), 0f, name));
    }

    @Test
    void badSettingsNameTheirKey() throws IOException {
        BadInputException e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "rank-high",
                yaml("  rank: 40\n")));
        assertTrue(e.getMessage().contains("parameters.rank: 40 is above the rank of model.layers.0.self_attn.k_proj.weight"),
                e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "no-data",
                yaml("").replace("safety.jsonl", "missing.jsonl")));
        assertTrue(e.getMessage().contains("parameters.safety_data") && e.getMessage().contains("missing.jsonl"),
                e.getMessage());
        Files.writeString(dir.resolve("broken.jsonl"), "{\"messages\": 3}\n");
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "bad-data",
                yaml("").replace("safety.jsonl", "broken.jsonl")));
        assertTrue(e.getMessage().contains("parameters.safety_data") && e.getMessage().contains("broken.jsonl"),
                e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "at", yaml("  gradient_at: base\n")));
        assertTrue(e.getMessage().contains("parameters.gradient_at"), e.getMessage());
    }

    private static float[] minus(float[] x, float[] y) {
        float[] d = new float[x.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = x[i] - y[i];
        }
        return d;
    }

    private static double norm(float[] x) {
        double s = 0;
        for (float v : x) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }
}
