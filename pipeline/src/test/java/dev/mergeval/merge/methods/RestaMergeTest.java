package dev.mergeval.merge.methods;

import static dev.mergeval.merge.methods.PostHocFixtures.f;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.methods.PostHocFixtures.T;
import dev.mergeval.merge.plan.PlanOptions;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RESTA on hand-made matrices, on a LoRA fine-tune, and its DARE across chunkings. */
class RestaMergeTest {

    static final String Q = "model.layers.0.self_attn.q_proj.weight";
    static final String UP = "model.layers.1.mlp.up_proj.weight";
    static final String NORM = "model.norm.weight";
    static final int ROWS = 48;
    static final int COLS = 40;

    @TempDir
    static Path dir;
    static Path aligned;
    static Path unaligned;
    static Path post;

    @BeforeAll
    static void writeModels() {
        Map<String, T> u = new LinkedHashMap<>();
        Map<String, T> a = new LinkedHashMap<>();
        Map<String, T> p = new LinkedHashMap<>();
        u.put(Q, T.of(2, 2, 1, 1, 1, 1));
        a.put(Q, T.of(2, 2, 3, 1, 0, 1));
        p.put(Q, T.of(2, 2, 4, 1, 1, 5));
        SplittableRandom rnd = new SplittableRandom(3);
        u.put(UP, random(rnd));
        a.put(UP, random(rnd));
        p.put(UP, random(rnd));
        // The norm is the same in the aligned and unaligned models: a zero safety vector.
        u.put(NORM, T.vector(2, 2));
        a.put(NORM, T.vector(2, 2));
        p.put(NORM, T.vector(3, 4));
        unaligned = PostHocFixtures.model(dir.resolve("unaligned"), u);
        aligned = PostHocFixtures.model(dir.resolve("aligned"), a);
        post = PostHocFixtures.model(dir.resolve("post"), p);
    }

    private static T random(SplittableRandom rnd) {
        float[] v = new float[ROWS * COLS];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return new T(new long[] {ROWS, COLS}, v);
    }

    static String yaml(String fineTune, String parameters) {
        return "merge_method: resta\nbase_model: " + aligned + "\nmodels:\n  - model: " + fineTune
                + "\nparameters:\n  unaligned_model: unaligned\n" + parameters;
    }

    @Test
    void addsTheScaledSafetyVectorToEveryTensor() {
        // q: W_aligned - W_unaligned = [[2,0],[-1,0]]; scale .5: [[4,1],[1,5]] + [[1,0],[-.5,0]].
        Map<String, float[]> out = PostHocFixtures.read(PostHocFixtures.merge(dir, "half",
                yaml(post.toString(), "  scale: 0.5\n")).toString());
        assertArrayEquals(f(5, 1, .5, 5), out.get(Q));
        assertArrayEquals(f(3, 4), out.get(NORM), "a zero safety vector leaves the fine-tune");
        Map<String, float[]> defaults = PostHocFixtures.read(PostHocFixtures.merge(dir, "one",
                yaml(post.toString(), "")).toString());
        assertArrayEquals(f(6, 1, 0, 5), defaults.get(Q), "scale 1 by default");
        Map<String, float[]> a = PostHocFixtures.read(aligned.toString());
        Map<String, float[]> u = PostHocFixtures.read(unaligned.toString());
        Map<String, float[]> p = PostHocFixtures.read(post.toString());
        for (int i = 0; i < ROWS * COLS; i++) {
            assertEquals((float) (p.get(UP)[i] + (double) (a.get(UP)[i] - u.get(UP)[i])), defaults.get(UP)[i]);
        }
        Map<String, float[]> filtered = PostHocFixtures.read(PostHocFixtures.merge(dir, "filtered",
                yaml(post.toString(), "  scale: [{filter: norm, value: 0}, {value: 2}]\n")).toString());
        assertArrayEquals(f(8, 1, -1, 5), filtered.get(Q), "scale by filter: 2 on q");
    }

    @Test
    void loraFineTuneEqualsItsMergedFullForm() {
        Map<String, T[]> modules = Map.of(Q.replace(".weight", ""),
                new T[] {T.of(1, 2, 1, 2), T.of(2, 1, .25, -.5)});
        Path adapter = PostHocFixtures.adapter(dir.resolve("adapter"), 1, modules);
        String lora = aligned + "+" + adapter;
        Map<String, T> full = new LinkedHashMap<>();
        PostHocFixtures.read(lora).forEach((name, v) -> full.put(name,
                new T(name.equals(NORM) ? new long[] {2} : name.equals(Q) ? new long[] {2, 2} : new long[] {ROWS, COLS}, v)));
        Path merged = PostHocFixtures.model(dir.resolve("merged-adapter"), full);
        Path viaAdapter = PostHocFixtures.merge(dir, "lora", yaml(lora, "  scale: 0.3\n  density: 0.5\n"));
        Path viaFull = PostHocFixtures.merge(dir, "lora-full", yaml(merged.toString(), "  scale: 0.3\n  density: 0.5\n"));
        assertArrayEquals(PostHocFixtures.shard(viaFull), PostHocFixtures.shard(viaAdapter));
        // q of ALIGNED+ADAPTER: [[3,1],[0,1]] + [[.25,.5],[-.5,-1]]; plus .3 of the safety vector.
        float[] q = PostHocFixtures.read(PostHocFixtures.merge(dir, "lora-dense", yaml(lora, "  scale: 0.3\n")).toString())
                .get(Q);
        assertArrayEquals(f(3.25 + .6, 1.5, -.5 - .3, 0), q, 1e-6f);
    }

    /** DARE on the safety vector: the same bytes whatever the chunking, keyed by the seed. */
    @Test
    void dareIsTheSameAcrossChunkingsAndRescalesByDensity() {
        String yaml = yaml(post.toString(), "  density: 0.4\n  scale: 0.5\n");
        Path whole = PostHocFixtures.merge(dir, "dare-whole", yaml, 9, PlanOptions.defaults());
        Path chunked = PostHocFixtures.merge(dir, "dare-chunked", yaml, 9,
                PlanOptions.defaults().withChunkElements(37).withMaxUnitBytes(COLS * 4 * 5));
        assertArrayEquals(PostHocFixtures.shard(whole), PostHocFixtures.shard(chunked));
        Path otherSeed = PostHocFixtures.merge(dir, "dare-seed", yaml, 10, PlanOptions.defaults());
        assertFalse(Arrays.equals(PostHocFixtures.shard(whole), PostHocFixtures.shard(otherSeed)));

        Map<String, float[]> out = PostHocFixtures.read(whole.toString());
        Map<String, float[]> a = PostHocFixtures.read(aligned.toString());
        Map<String, float[]> u = PostHocFixtures.read(unaligned.toString());
        Map<String, float[]> p = PostHocFixtures.read(post.toString());
        int kept = 0;
        for (int i = 0; i < ROWS * COLS; i++) {
            float dropped = p.get(UP)[i];
            float rescaled = (float) (p.get(UP)[i] + 0.5 / 0.4 * (a.get(UP)[i] - u.get(UP)[i]));
            float y = out.get(UP)[i];
            assertTrue(y == dropped || y == rescaled, "element " + i + " is dropped or kept and rescaled");
            kept += y == rescaled && y != dropped ? 1 : 0;
        }
        double share = kept / (double) (ROWS * COLS);
        assertTrue(Math.abs(share - 0.4) < 0.05, "kept share " + share);
    }

    @Test
    void badSettingsAreBadInput() {
        BadInputException e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "density",
                yaml(post.toString(), "  density: 1.5\n")));
        assertTrue(e.getMessage().contains("parameters.density"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "two-models",
                yaml(post.toString(), "").replace("models:\n", "models:\n  - model: " + unaligned + "\n")));
        assertTrue(e.getMessage().contains("models: resta takes exactly one model"), e.getMessage());
        Map<String, T> partial = new LinkedHashMap<>();
        partial.put(Q, T.of(2, 2, 0, 0, 0, 0));
        PostHocFixtures.model(dir.resolve("partial"), partial);
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "partial-out",
                yaml(post.toString(), "").replace("unaligned_model: unaligned", "unaligned_model: partial")));
        assertTrue(e.getMessage().contains("parameters.unaligned_model") && e.getMessage().contains(UP), e.getMessage());
    }
}
