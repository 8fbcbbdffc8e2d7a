package dev.mergeval.merge.methods;

import static dev.mergeval.merge.methods.PostHocFixtures.f;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.methods.PostHocFixtures.T;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Safe LoRA on hand-made 2x2 and 2x3 matrices whose projections and cosines are worked out by hand
 * in the comments, through plan, execute and commit.
 */
class SafeLoraMergeTest {

    static final String Q = "model.layers.0.self_attn.q_proj.weight";
    static final String K = "model.layers.0.self_attn.k_proj.weight";
    static final String V = "model.layers.0.self_attn.v_proj.weight";
    static final String O = "model.layers.0.self_attn.o_proj.weight";
    static final String DOWN = "model.layers.0.mlp.down_proj.weight";
    static final String NORM = "model.norm.weight";
    static final String EMBED = "model.embed_tokens.weight";

    /*
     * q:    V = [[1,0],[0,0]], |V| = 1, dW = [[.5,.5],[.5,.5]]: V^T dW = [[.5,.5],[0,0]],
     *       P = [[.5,.5],[0,0]], <P,dW> = .5, |P| = sqrt(.5), |dW| = 1: cos = 0.70711.
     * k:    V = [[2,0],[0,0]], |V| = 2, dW = [[1,0],[0,3]]: V^T dW = [[2,0],[0,0]],
     *       P = V [[2,0],[0,0]] / 2 = [[2,0],[0,0]], <P,dW> = 2, |P| = 2, |dW| = sqrt(10): cos = 0.31623.
     * down: V = [[1,1,0],[0,0,0]], |V| = sqrt(2), dW = [[1,0,0],[0,0,2]]: V^T dW = [[1,0,0],[1,0,0],[0,0,0]],
     *       P = [[2,0,0],[0,0,0]] / sqrt(2) = [[sqrt(2),0,0],[0,0,0]], <P,dW> = sqrt(2), |P| = sqrt(2),
     *       |dW| = sqrt(5): cos = 1/sqrt(5) = 0.44721.
     * v:    dW = 0: no cosine, never projected.  o: V = 0: no cosine, never projected.
     */
    static final double COS_Q = 0.70711;
    static final double COS_K = 0.31623;
    static final double COS_DOWN = 0.44721;

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
        put(u, a, p, EMBED, T.of(2, 2, 0, 0, 0, 0), T.of(2, 2, 1, 1, 1, 1), T.of(2, 2, 7, 7, 7, 7));
        put(u, a, p, Q, T.of(2, 2, 0, 0, 0, 0), T.of(2, 2, 1, 0, 0, 0), T.of(2, 2, 1.5, .5, .5, .5));
        put(u, a, p, K, T.of(2, 2, 1, 1, 1, 1), T.of(2, 2, 3, 1, 1, 1), T.of(2, 2, 4, 1, 1, 4));
        put(u, a, p, V, T.of(2, 2, 0, 0, 0, 0), T.of(2, 2, 1, 2, 3, 4), T.of(2, 2, 1, 2, 3, 4));
        put(u, a, p, O, T.of(2, 2, 1, 2, 3, 4), T.of(2, 2, 1, 2, 3, 4), T.of(2, 2, 2, 2, 3, 4));
        put(u, a, p, DOWN, T.of(2, 3, 0, 0, 0, 1, 1, 1), T.of(2, 3, 1, 1, 0, 1, 1, 1), T.of(2, 3, 2, 1, 0, 1, 1, 3));
        put(u, a, p, NORM, T.vector(1, 1), T.vector(2, 2), T.vector(3, 3));
        unaligned = PostHocFixtures.model(dir.resolve("unaligned"), u);
        aligned = PostHocFixtures.model(dir.resolve("aligned"), a);
        post = PostHocFixtures.model(dir.resolve("post"), p);
    }

    private static void put(Map<String, T> u, Map<String, T> a, Map<String, T> p, String name, T tu, T ta, T tp) {
        u.put(name, tu);
        a.put(name, ta);
        p.put(name, tp);
    }

    /** The config, with paths relative to the config file in {@code dir}. */
    static String yaml(String fineTune, String parameters) {
        return "merge_method: safe_lora\nbase_model: " + aligned + "\nmodels:\n  - model: " + fineTune
                + "\nparameters:\n  unaligned_model: unaligned\n" + parameters;
    }

    private static void assertProjected(Map<String, float[]> out, boolean q, boolean k, boolean down) {
        Map<String, float[]> p = PostHocFixtures.read(post.toString());
        assertArrayEquals(q ? f(1.5, .5, 0, 0) : p.get(Q), out.get(Q), 1e-6f, "q");
        assertArrayEquals(k ? f(5, 1, 1, 1) : p.get(K), out.get(K), 1e-6f, "k");
        assertArrayEquals(down ? f(1 + Math.sqrt(2), 1, 0, 1, 1, 1) : p.get(DOWN), out.get(DOWN), 1e-6f, "down");
        for (String same : List.of(V, O, NORM, EMBED)) {
            assertArrayEquals(p.get(same), out.get(same), same + " is the fine-tune's");
        }
    }

    @Test
    void numberModeProjectsTheMatricesWithTheSmallestCosines() {
        Path out = PostHocFixtures.merge(dir, "number2", yaml(post.toString(), "  num_proj_layers: 2\n"));
        assertProjected(PostHocFixtures.read(out.toString()), false, true, true);
        JsonNode analysis = PostHocFixtures.analysis(out);
        assertEquals("number", analysis.get("select_layers_type").asText());
        assertEquals(COS_DOWN, analysis.get("threshold").asDouble(), 0);
        assertEquals(5, analysis.get("target_matrices").asInt(), "q, k, v, o, down; not the embeddings or norm");
        assertEquals(2, analysis.get("projected_matrices").asInt());
        JsonNode tensors = analysis.get("tensors");
        assertEquals(COS_Q, tensors.get(Q).get("cosine").asDouble(), 0);
        assertEquals(COS_K, tensors.get(K).get("cosine").asDouble(), 0);
        assertEquals(COS_DOWN, tensors.get(DOWN).get("cosine").asDouble(), 0);
        assertFalse(tensors.get(Q).get("projected").asBoolean());
        assertTrue(tensors.get(K).get("projected").asBoolean());
        assertTrue(tensors.get(V).get("cosine").isNull(), "a zero dW has no cosine");
        assertTrue(tensors.get(O).get("cosine").isNull(), "a zero V has no cosine");
        assertFalse(tensors.get(V).get("projected").asBoolean() || tensors.get(O).get("projected").asBoolean());
        assertFalse(tensors.has(NORM) || tensors.has(EMBED));
    }

    /** The analysis reports one step per target matrix, before the units start theirs. */
    @Test
    void analysisReportsItsProgressBeforeTheUnits() {
        List<String> events = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        dev.mergeval.common.Progress progress = new dev.mergeval.common.Progress() {
            @Override
            public void start(String task, long total) {
                events.add("start " + task + " " + total);
            }

            @Override
            public void advance(long steps) {
                events.add("advance " + steps);
            }

            @Override
            public void finish() {
                events.add("finish");
            }
        };
        PostHocFixtures.merge(dir, "progress", yaml(post.toString(), "  num_proj_layers: 1\n"), 0,
                dev.mergeval.merge.plan.PlanOptions.defaults(), progress);
        // q, k, v, o and down: the fixture's five 2-D projections.
        assertEquals(List.of("start safe_lora analysis 5", "advance 1", "advance 1", "advance 1", "advance 1",
                "advance 1", "finish"), events.subList(0, 7), events.toString());
        assertTrue(events.get(7).startsWith("start merge"), events.toString());
    }

    @Test
    void numberModeCountsOnlyMatricesWithACosine() {
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "number1",
                yaml(post.toString(), "  num_proj_layers: 1\n")).toString()), false, true, false);
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "number0",
                yaml(post.toString(), "  num_proj_layers: 0\n")).toString()), false, false, false);
        // The default, 10, is more than the three matrices with a cosine: all three are projected.
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "default",
                yaml(post.toString(), "")).toString()), true, true, true);
    }

    @Test
    void thresholdModeProjectsCosinesAtOrBelowTheThreshold() {
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "threshold-default",
                yaml(post.toString(), "  select_layers_type: threshold\n")).toString()), false, true, true);
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "threshold-at-k",
                yaml(post.toString(), "  select_layers_type: threshold\n  threshold: " + COS_K + "\n")).toString()),
                false, true, false);
        assertProjected(PostHocFixtures.read(PostHocFixtures.merge(dir, "threshold-low",
                yaml(post.toString(), "  select_layers_type: threshold\n  threshold: 0.2\n")).toString()),
                false, false, false);
    }

    @Test
    void targetModulesNarrowTheMatrices() {
        Path out = PostHocFixtures.merge(dir, "targets",
                yaml(post.toString(), "  target_modules: [q_proj, down_proj]\n  num_proj_layers: 1\n"));
        assertProjected(PostHocFixtures.read(out.toString()), false, false, true);
        assertEquals(2, PostHocFixtures.analysis(out).get("target_matrices").asInt());
        BadInputException e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "no-targets",
                yaml(post.toString(), "  target_modules: lm_head\n")));
        assertTrue(e.getMessage().contains("parameters.target_modules"), e.getMessage());
    }

    /**
     * The fine-tune as {@code ALIGNED+ADAPTER} (LoRA on q and k; its cosines from the factors) gives
     * the same bytes as its merged full form, and by default targets only the adapter's matrices.
     */
    @Test
    void loraInputEqualsItsMergedFullForm() {
        // r = 2, alpha = 4: scale 2. q: B A = [[.25,.25],[.25,.25]], so dW = [[.5,.5],[.5,.5]] as above;
        // k: B A = [[.5,0],[0,1.5]], so dW = [[1,0],[0,3]] as above.
        Map<String, T[]> modules = new LinkedHashMap<>();
        modules.put(Q.replace(".weight", ""), new T[] {T.of(2, 2, .5, .5, 0, 0), T.of(2, 2, .5, 0, .5, 0)});
        modules.put(K.replace(".weight", ""), new T[] {T.of(2, 2, 1, 0, 0, 1), T.of(2, 2, .5, 0, 0, 1.5)});
        Path adapter = PostHocFixtures.adapter(dir.resolve("adapter"), 4, modules);
        String lora = aligned + "+" + adapter;
        Path full = PostHocFixtures.model(dir.resolve("merged-adapter"), fullForm(lora));
        Path viaAdapter = PostHocFixtures.merge(dir, "lora", yaml(lora, "  num_proj_layers: 1\n"));
        Path viaFull = PostHocFixtures.merge(dir, "lora-full",
                yaml(full.toString(), "  target_modules: [q_proj, k_proj]\n  num_proj_layers: 1\n"));
        assertArrayEquals(PostHocFixtures.shard(viaFull), PostHocFixtures.shard(viaAdapter));
        JsonNode tensors = PostHocFixtures.analysis(viaAdapter).get("tensors");
        assertEquals(List.of(Q, K), names(tensors), "by default the adapter's matrices only");
        assertEquals(COS_Q, tensors.get(Q).get("cosine").asDouble(), 0);
        assertEquals(COS_K, tensors.get(K).get("cosine").asDouble(), 0);
        Map<String, float[]> out = PostHocFixtures.read(viaAdapter.toString());
        assertArrayEquals(f(5, 1, 1, 1), out.get(K), 1e-6f, "k projected");
        assertArrayEquals(f(1.5, .5, .5, .5), out.get(Q), 1e-6f, "q kept");
        assertArrayEquals(PostHocFixtures.read(aligned.toString()).get(DOWN), out.get(DOWN), "down: not adapted");
    }

    private static Map<String, T> fullForm(String location) {
        Map<String, T> out = new LinkedHashMap<>();
        Map<String, float[]> a = PostHocFixtures.read(aligned.toString());
        PostHocFixtures.read(location).forEach((name, v) -> out.put(name,
                new T(name.equals(NORM) ? new long[] {2} : new long[] {2, v.length / 2}, v)));
        assertEquals(a.keySet(), out.keySet());
        return out;
    }

    private static List<String> names(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void unalignedModelThatDoesNotFitIsBadInputNamingTheKeyAndTensor() {
        Map<String, T> wrong = new LinkedHashMap<>();
        wrong.put(Q, T.of(2, 2, 0, 0, 0, 0));
        wrong.put(K, T.of(1, 4, 0, 0, 0, 0));
        PostHocFixtures.model(dir.resolve("wrong-shape"), wrong);
        BadInputException e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "bad-shape",
                yaml(post.toString(), "").replace("unaligned_model: unaligned", "unaligned_model: wrong-shape")));
        assertTrue(e.getMessage().contains("parameters.unaligned_model") && e.getMessage().contains(K), e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "missing",
                yaml(post.toString(), "").replace("unaligned_model: unaligned", "unaligned_model: nowhere")));
        assertTrue(e.getMessage().contains("parameters.unaligned_model") && e.getMessage().contains("nowhere"),
                e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "absent",
                yaml(post.toString(), "").replace("  unaligned_model: unaligned\n", "  threshold: 0.5\n")));
        assertTrue(e.getMessage().contains("parameters.unaligned_model: required by safe_lora"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> PostHocFixtures.merge(dir, "mode",
                yaml(post.toString(), "  select_layers_type: all\n")));
        assertTrue(e.getMessage().contains("parameters.select_layers_type"), e.getMessage());
    }

    /**
     * The grouped projection against the plain triple loop it stands for, bit for bit: 9 x 70 (two
     * groups of four rows and one left over; a block of 64 columns and one of 6), zeros of {@code V}
     * in whole rows and columns and scattered, and a {@code dW} holding an infinity in a column whose
     * {@code V} is zero for some rows (the row-at-a-time loops that skip those terms, so no
     * {@code 0 * inf} turns a sum into NaN).
     */
    @Test
    void groupedProjectionGivesThePlainLoopsBytes() {
        int rows = 9;
        int cols = 70;
        java.util.Random random = new java.util.Random(14);
        float[] v = new float[rows * cols];
        float[] dw = new float[rows * cols];
        float[] a = new float[rows * cols];
        for (int x = 0; x < v.length; x++) {
            boolean zero = x / cols == 2 || x % cols == 5 || random.nextInt(4) == 0;
            v[x] = zero ? 0 : spread(random);
            dw[x] = random.nextInt(6) == 0 ? 0 : spread(random);
            a[x] = (float) random.nextGaussian();
        }
        for (float[] d : new float[][] {dw, infinityWhereVIsZero(v, dw, cols)}) {
            double vNorm = Rules.norm(v, 0, v.length, 1);
            float[] out = new float[v.length];
            float[] expected = new float[v.length];
            double[] stats = SafeLoraProjection.project(v, d, rows, cols, vNorm, a, out);
            assertArrayEquals(plainProjection(v, d, rows, cols, vNorm, a, expected), stats);
            for (int x = 0; x < out.length; x++) {
                assertEquals(Float.floatToRawIntBits(expected[x]), Float.floatToRawIntBits(out[x]), "element " + x);
            }
        }
    }

    /**
     * The two grouped loops alone, on sums that round (one in six or so changes with the order of
     * its terms): {@code V^T dW} over four rows and {@code V m} for four rows, against one row at a
     * time in ascending order, bit for bit.
     */
    @Test
    void groupLoopsAddTheirTermsInOrder() {
        int cols = 70;
        int b = 61;
        int j0 = 5;
        java.util.Random random = new java.util.Random(15);
        float[] v = new float[SafeLoraProjection.GROUP * cols];
        float[] dw = new float[SafeLoraProjection.GROUP * cols];
        double[] m = new double[cols * SafeLoraProjection.BLOCK];
        for (int x = 0; x < v.length; x++) {
            v[x] = spread(random);
            dw[x] = spread(random);
        }
        for (int x = 0; x < m.length; x++) {
            m[x] = spread(random) * (double) spread(random);
        }
        double[] grouped = m.clone();
        SafeLoraProjection.accumulateGroup(v, dw, cols, j0, b, 0, new double[SafeLoraProjection.GROUP * SafeLoraProjection.BLOCK],
                grouped);
        double[] rowByRow = m.clone();
        double[] p = new double[SafeLoraProjection.GROUP * SafeLoraProjection.BLOCK];
        for (int r = 0; r < SafeLoraProjection.GROUP; r++) {
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < b; j++) {
                    rowByRow[i * SafeLoraProjection.BLOCK + j] += (double) v[r * cols + i] * dw[r * cols + j0 + j];
                    p[r * SafeLoraProjection.BLOCK + j] += v[r * cols + i] * m[i * SafeLoraProjection.BLOCK + j];
                }
            }
        }
        assertBits(rowByRow, grouped);
        double[] product = new double[p.length];
        SafeLoraProjection.productGroup(v, m, cols, b, 0, product);
        assertBits(p, product);
    }

    /**
     * The projection in the other association, {@code (V V^T) dW}, for matrices with fewer rows than
     * columns: one group of four rows and one of three, of four and one, of four and four (the last
     * two with odd and even row counts, so the Gram matrix's rows come in pairs and one alone), each
     * of the cosine's sums within 1e-12 of {@link SafeLoraProjection#project}'s and each merged
     * element within one float ulp of its; a taller than wide matrix and a non-finite one take
     * {@code project} itself.
     */
    @Test
    void theCheaperAssociationAgreesWithTheProjection() {
        java.util.Random random = new java.util.Random(16);
        for (int[] shape : new int[][] {{7, 70}, {9, 70}, {8, 33}, {70, 9}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] v = new float[rows * cols];
            float[] dw = new float[rows * cols];
            for (int x = 0; x < v.length; x++) {
                v[x] = random.nextInt(5) == 0 ? 0 : spread(random);
                dw[x] = spread(random);
            }
            double vNorm = Rules.norm(v, 0, v.length, 1);
            float[] a = new float[v.length];
            for (int x = 0; x < a.length; x++) {
                a[x] = spread(random);
            }
            float[] out = new float[v.length];
            float[] cheap = new float[v.length];
            double[] expected = SafeLoraProjection.project(v, dw, rows, cols, vNorm, a, out);
            double[] terms = SafeLoraProjection.projectCheaply(v, dw, rows, cols, vNorm, a, cheap);
            for (int x = 0; x < out.length; x++) {
                assertEquals(out[x], cheap[x], Math.ulp(out[x]), rows + "x" + cols + " element " + x);
            }
            for (int t = 0; t < 3; t++) {
                assertEquals(expected[t], terms[t], Math.abs(expected[t]) * 1e-12, rows + "x" + cols + " term " + t);
            }
            if (rows > cols) {
                assertArrayEquals(expected, terms, "taller than wide: the projection's own sums");
            }
        }
        float[] v = {1, 0, 2, 0, 3, 1};
        float[] dw = {Float.NaN, 1, 1, 1, 1, 1};
        double vNorm = Rules.norm(v, 0, v.length, 1);
        assertArrayEquals(SafeLoraProjection.project(v, dw, 2, 3, vNorm, null, null),
                SafeLoraProjection.projectCheaply(v, dw, 2, 3, vNorm, null, null), "NaN: the projection's own sums");
    }

    /**
     * An adapter's cosine terms from its factors against the projection of the update they make,
     * {@code dW = s L R}, on small whole numbers (so that {@code dW} is exact in float and every
     * sum of products is exact in double): the same three terms, to the last bits that dividing by
     * {@code ||V||} in another order leaves.
     */
    @Test
    void factorTermsAreTheProjectionsOfTheUpdateTheFactorsMake() {
        java.util.Random random = new java.util.Random(17);
        for (int[] shape : new int[][] {{6, 10, 3}, {10, 6, 2}, {5, 5, 1}}) {
            int rows = shape[0];
            int cols = shape[1];
            int r = shape[2];
            float[] v = new float[rows * cols];
            float[] left = new float[rows * r];
            float[] right = new float[r * cols];
            for (int x = 0; x < v.length; x++) {
                v[x] = random.nextInt(7) - 3;
            }
            for (int x = 0; x < left.length; x++) {
                left[x] = random.nextInt(5) - 2;
            }
            for (int x = 0; x < right.length; x++) {
                right[x] = random.nextInt(5) - 2;
            }
            float s = 0.5f;
            float[] dw = new float[rows * cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    for (int c = 0; c < r; c++) {
                        dw[i * cols + j] += s * left[i * r + c] * right[c * cols + j];
                    }
                }
            }
            double vNorm = Rules.norm(v, 0, v.length, 1);
            double[] expected = SafeLoraProjection.project(v, dw, rows, cols, vNorm, null, null);
            double[] terms = SafeLoraProjection.factorTerms(v, rows, cols, vNorm, left, right, r, s);
            for (int t = 0; t < 3; t++) {
                assertEquals(expected[t], terms[t], Math.abs(expected[t]) * 1e-13, rows + "x" + cols + " term " + t);
            }
        }
    }

    private static void assertBits(double[] expected, double[] actual) {
        for (int x = 0; x < expected.length; x++) {
            assertEquals(Double.doubleToRawLongBits(expected[x]), Double.doubleToRawLongBits(actual[x]), "element " + x);
        }
    }

    private static float[] infinityWhereVIsZero(float[] v, float[] dw, int cols) {
        float[] d = dw.clone();
        d[3 * cols + 5] = Float.POSITIVE_INFINITY;
        assertEquals(0f, v[3 * cols + 5]);
        return d;
    }

    /** Safe LoRA's projection as three plain loops, terms with {@code V = 0} left out, by blocks of 64 columns. */
    private static double[] plainProjection(float[] v, float[] dw, int rows, int cols, double vNorm, float[] a,
            float[] out) {
        double[] stats = new double[3];
        for (int j0 = 0; j0 < cols; j0 += 64) {
            int b = Math.min(64, cols - j0);
            double[][] m = new double[cols][b];
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < b; j++) {
                    for (int r = 0; r < rows; r++) {
                        if (v[r * cols + i] != 0) {
                            m[i][j] += (double) v[r * cols + i] * dw[r * cols + j0 + j];
                        }
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < b; j++) {
                    double p = 0;
                    for (int i = 0; i < cols; i++) {
                        if (v[r * cols + i] != 0) {
                            p += v[r * cols + i] * m[i][j];
                        }
                    }
                    p /= vNorm;
                    double d = dw[r * cols + j0 + j];
                    stats[0] += p * d;
                    stats[1] += p * p;
                    stats[2] += d * d;
                    out[r * cols + j0 + j] = (float) (a[r * cols + j0 + j] + p);
                }
            }
        }
        return stats;
    }

    /** A value whose exponent spans 2^-8..2^8, so that sums of products round and their order shows. */
    private static float spread(java.util.Random random) {
        return (float) Math.scalb(random.nextGaussian(), random.nextInt(17) - 8);
    }
}
