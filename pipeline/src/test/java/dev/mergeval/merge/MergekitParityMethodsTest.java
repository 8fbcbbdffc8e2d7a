package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.config;
import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static dev.mergeval.merge.Merges.merge;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Properties of sce, karcher, multislerp, nearswap, arcee_fusion, ram and ramplus_tl that follow
 * from their formulas (limits, identities, selection counts), their chunking and their config
 * checks; {@link MergekitMethodsGoldenTest} holds their values against mergekit's.
 */
class MergekitParityMethodsTest {
    private static final String W = "model.layers.0.mlp.up_proj.weight";

    private static float[] random(long seed, int n, double scale, double offset) {
        Random rnd = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (offset + rnd.nextGaussian() * scale);
        }
        return out;
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    private static void assertNear(float[] expected, float[] actual, double relative) {
        double tol = relative * Arrays.stream(box(expected)).mapToDouble(Math::abs).max().orElse(0);
        assertArrayEquals(expected, actual, (float) tol);
    }

    private static Double[] box(float[] v) {
        Double[] out = new Double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (double) v[i];
        }
        return out;
    }

    @Test
    void multislerpOfIdenticalModelsIsThatModel() {
        float[] x = random(1, 48, 0.5, 0.2);
        String noBase = "merge_method: multislerp\nmodels: [{model: a, parameters: {weight: 0.2}}, "
                + "{model: b, parameters: {weight: 0.5}}, {model: c, parameters: {weight: 0.3}}]";
        assertNear(x, merge(noBase, W, new long[] {6, 8}, inputs("a", x, "b", x.clone(), "c", x.clone())), 1e-6);
        float[] base = random(2, 48, 0.5, 0);
        String withBase = "base_model: base\n" + noBase;
        assertNear(x, merge(withBase, W, new long[] {6, 8}, inputs("base", base, "a", x, "b", x.clone(), "c", x.clone())),
                1e-6);
        // One model besides the base: returned as it is.
        String one = "merge_method: multislerp\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1}}]";
        assertArrayEquals(x, merge(one, W, new long[] {48}, inputs("base", base, "a", x)), 0f);
    }

    @Test
    void multislerpOfTwoModelsFollowsTheGreatCircleAndScalesByTheMeanNorm() {
        // Orthogonal a = (2, 0), b = (0, 4), weights 1:1: direction (1, 1)/sqrt2, norm (2 + 4) / 2 = 3.
        String yaml = "merge_method: multislerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]";
        float[] out = merge(yaml, W, new long[] {2}, inputs("a", f(2, 0), "b", f(0, 4)));
        assertArrayEquals(f(3 / Math.sqrt(2), 3 / Math.sqrt(2)), out, 1e-6f);
        // Antipodal with equal weights: mergekit's linear fallback for two models, 0.5 a + 0.5 b.
        assertArrayEquals(f(0.5, 0), merge(yaml, W, new long[] {2}, inputs("a", f(2, 0), "b", f(-1, 0))), 1e-6f);
    }

    @Test
    void multislerpRefusesWeightsThatSumToZeroAndCancellingUnitVectors() {
        String zero = "merge_method: multislerp\nmodels: [{model: a, parameters: {weight: [1, 2]}}, "
                + "{model: b, parameters: {weight: -1}}]";
        BadInputException e = assertThrows(BadInputException.class,
                () -> merge(zero, W, new long[] {2}, inputs("a", f(1, 0), "b", f(0, 1))));
        assertTrue(e.getMessage().startsWith(W + ": multislerp: the models' weights sum to 0"), e.getMessage());
        // 0.1f + 0.2f - 0.3f is 0 in mergekit's float32 sum (5.6e-17 in double): refused too.
        String single = "merge_method: multislerp\nmodels: [{model: a, parameters: {weight: 0.1}}, "
                + "{model: b, parameters: {weight: 0.2}}, {model: c, parameters: {weight: -0.3}}]";
        BadInputException s = assertThrows(BadInputException.class, () -> merge(single, W, new long[] {2},
                inputs("a", f(1, 0), "b", f(0, 1), "c", f(1, 1))));
        assertTrue(s.getMessage().contains("multislerp: the models' weights sum to 0"), s.getMessage());
        String three = "merge_method: multislerp\nmodels: [{model: a, parameters: {weight: 1}}, "
                + "{model: b, parameters: {weight: 1}}, {model: c, parameters: {weight: 2}}]";
        BadInputException cancel = assertThrows(BadInputException.class, () -> merge(three, W, new long[] {2},
                inputs("a", f(1, 0), "b", f(1, 0), "c", f(-1, 0))));
        assertTrue(cancel.getMessage().contains("antipodal"), cancel.getMessage());
    }

    @Test
    void karcherOfOneModelIsItselfAndOfTwoTheGeodesicMidpoint() {
        float[] x = random(3, 30, 1, 0);
        assertArrayEquals(x, merge("merge_method: karcher\nmodels: [{model: a}]", W, new long[] {5, 6},
                inputs("a", x)), 0f);
        float[] y = random(4, 30, 2, 0.5);
        float[] out = merge("merge_method: karcher\nmodels: [{model: a}, {model: b}]", W, new long[] {5, 6},
                inputs("a", x, "b", y));
        double nx = norm(x);
        double ny = norm(y);
        float[] expected = new float[30];
        float[] mid = new float[30];
        for (int i = 0; i < 30; i++) {
            mid[i] = (float) (x[i] / nx + y[i] / ny);
        }
        double nm = norm(mid);
        for (int i = 0; i < 30; i++) {
            expected[i] = (float) (mid[i] / nm * (nx + ny) / 2);
        }
        assertNear(expected, out, 1e-6);
        // Equal angles to both: the output makes the same angle with each input.
        double cx = 0;
        double cy = 0;
        for (int i = 0; i < 30; i++) {
            cx += out[i] * x[i];
            cy += out[i] * y[i];
        }
        assertEquals(cx / nx, cy / ny, 1e-4 * Math.abs(cx / nx));
    }

    @Test
    void karcherOfThreeIsTheFixedPointAndCountsZeroNormsOnlyInTheScale() {
        // Unit vectors e1, e2, e3: by symmetry the mean is (1, 1, 1)/sqrt3, scale (1 + 2 + 3) / 3 = 2.
        String yaml = "merge_method: karcher\nmodels: [{model: a}, {model: b}, {model: c}]";
        float[] out = merge(yaml, W, new long[] {3}, inputs("a", f(1, 0, 0), "b", f(0, 2, 0), "c", f(0, 0, 3)));
        double v = 2 / Math.sqrt(3);
        assertArrayEquals(f(v, v, v), out, 1e-6f);
        // A zero model: out of the direction, in the scale: midpoint of e1, e2 times (1 + 1 + 0) / 3.
        float[] zero = merge(yaml, W, new long[] {3}, inputs("a", f(1, 0, 0), "b", f(0, 1, 0), "c", f(0, 0, 0)));
        double s = 2.0 / 3 / Math.sqrt(2);
        assertArrayEquals(f(s, s, 0), zero, 1e-6f);
    }

    @Test
    void karcherRefusesAFractionalMaxIter() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> config("merge_method: karcher\nmodels: [{model: a}, {model: b}]\nparameters: {max_iter: 2.5}"));
        assertTrue(e.getMessage().contains("parameters.max_iter: must be a whole number"), e.getMessage());
    }

    @Test
    void nearswapLimitsAndChunks() {
        float[] a = random(5, 40, 1, 0);
        float[] b = random(6, 40, 1, 0);
        String yaml = "merge_method: nearswap\nbase_model: a\nmodels: [{model: b}]\nparameters: {t: %s}";
        assertArrayEquals(a, merge(String.format(yaml, "0"), W, new long[] {40}, inputs("a", a, "b", b)), 0f);
        assertArrayEquals(b, merge(String.format(yaml, "1e9"), W, new long[] {40}, inputs("a", a, "b", b)), 0f);
        // |a - b| = 0.5 with t = 0.1: w = 0.2; |a - b| = 0.05: w = 1; equal values: w = 1 (clamped divisor).
        float[] y = merge(String.format(yaml, "0.1"), W, new long[] {3}, inputs("a", f(1, 1, 1), "b", f(1.5, 1.05, 1)));
        assertArrayEquals(f(1.1, 1.05, 1), y, 1e-6f);
        TensorMerger m = TensorMerger.create(config(String.format(yaml, "0.7")), 2);
        assertTrue(m.chunkable(W));
        float[] whole = m.merge(W, new long[] {40}, 0, inputs("a", a, "b", b), 1);
        float[] tail = m.merge(W, new long[] {40}, 25, inputs("a", Arrays.copyOfRange(a, 25, 40),
                "b", Arrays.copyOfRange(b, 25, 40)), 1);
        assertArrayEquals(Arrays.copyOfRange(whole, 25, 40), tail, 0f);
    }

    @Test
    void sceKeepsTheSelectedShareOfPositions() {
        int n = 200;
        float[] base = random(7, n, 1, 0);
        Map<String, float[]> in = inputs("base", base, "a", Merges.add(base, random(8, n, 0.1, 0)),
                "b", Merges.add(base, random(9, n, 0.1, 0)), "c", Merges.add(base, random(10, n, 0.1, 0)));
        String yaml = "merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}, {model: c}]\n"
                + "parameters: {select_topk: %s}";
        for (double topk : new double[] {0.1, 0.35, 0.5}) {
            float[] out = merge(String.format(yaml, topk), W, new long[] {10, 20}, in);
            int changed = 0;
            for (int i = 0; i < n; i++) {
                changed += out[i] != base[i] ? 1 : 0;
            }
            assertEquals((int) (n * (float) topk), changed, "select_topk " + topk);
        }
        assertArrayEquals(base, merge(String.format(yaml, 0), W, new long[] {10, 20}, in), 0f);
        // Selection by variance: the positions that survive 0.1 all survive 0.5.
        float[] narrow = merge(String.format(yaml, 0.1), W, new long[] {10, 20}, in);
        float[] wide = merge(String.format(yaml, 0.5), W, new long[] {10, 20}, in);
        for (int i = 0; i < n; i++) {
            assertFalse(narrow[i] != base[i] && wide[i] == base[i], "position " + i);
        }
    }

    @Test
    void sceErasesDisagreeingSignsAndWeighsByMeanSquare() {
        // a's deltas (2, -2), b's (1, 1): mean squares 4 and 1, weights 0.8 and 0.2. Element 0: both
        // positive, (0.8*2 + 0.2*1) / 1 = 1.8. Element 1: sum -1 elects -, only a: -2.
        String yaml = "merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}]";
        float[] out = merge(yaml, W, new long[] {2}, inputs("base", f(0, 0), "a", f(2, -2), "b", f(1, 1)));
        assertArrayEquals(f(1.8, -2), out, 1e-6f);
        // Deltas so small that the mean squares sum below 1e-6: equal weights.
        float[] tiny = merge(yaml, W, new long[] {2}, inputs("base", f(0, 0), "a", f(2e-4, 2e-4), "b", f(1e-4, 1e-4)));
        assertArrayEquals(f(1.5e-4, 1.5e-4), tiny, 1e-10f);
    }

    @Test
    void arceeFusionTakesOnlyTheLargestChangesAndIsReproducibleWhenSampling() {
        for (int n : new int[] {64, 1_200_000}) {
            float[] base = random(11, n, 1, 0);
            float[] delta = random(12, n, 0.01, 0);
            for (int i = 0; i < n; i += 37) {
                delta[i] *= 50;
            }
            float[] x = Merges.add(base, delta);
            String yaml = "merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: x}]";
            float[] out = merge(yaml, "model.norm.weight", new long[] {n}, inputs("base", base, "x", x));
            // 1-D: one softmax row, so the importance is |x - b| times one KL: the changed elements are
            // exactly those with the largest |x - b|, each becomes b + (x - b), the rest stay b.
            float smallestTaken = Float.POSITIVE_INFINITY;
            float largestLeft = 0;
            int taken = 0;
            for (int i = 0; i < n; i++) {
                float d = Math.abs(x[i] - base[i]);
                if (out[i] == base[i]) {
                    largestLeft = Math.max(largestLeft, d);
                } else {
                    assertEquals(base[i] + (x[i] - base[i]), out[i], 0f);
                    smallestTaken = Math.min(smallestTaken, d);
                    taken++;
                }
            }
            assertTrue(largestLeft < smallestTaken, n + ": " + largestLeft + " < " + smallestTaken);
            assertTrue(taken > 0 && taken < n / 10, n + ": took " + taken);
            if (n > 1_000_000) {
                float[] again = TensorMerger.create(config(yaml), 4).merge("model.norm.weight", new long[] {n}, 0,
                        inputs("base", base, "x", x), 42L);
                assertArrayEquals(out, again, 0f);
            }
        }
        float[] same = random(13, 20, 1, 0);
        assertArrayEquals(same, merge("merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: x}]", W,
                new long[] {4, 5}, inputs("base", same, "x", same.clone())), 0f);
    }

    @Test
    void ramAddsDisjointTaskVectorsAndAveragesSharedOnes() {
        String yaml = "merge_method: %s\nbase_model: base\nmodels: [{model: a}, {model: b}]";
        // Element 0 only a, 1 only b, 2 both (averaged), 3 neither, 4 below epsilon in a (ignored).
        Map<String, float[]> in = inputs("base", f(1, 1, 1, 1, 1), "a", f(1.5, 1, 1.2, 1, 1.000001),
                "b", f(1, 0.7, 1.4, 1, 1));
        float[] ram = merge(String.format(yaml, "ram"), W, new long[] {5}, in);
        assertArrayEquals(f(1.5, 0.7, 1.3, 1, 1), ram, 1e-6f);
        // ramplus_tl: each model 1 unique and 1 shared element: rho = 1, clamped to alpha 0.2,
        // lambda = 1 + 0.1 * 0.2 on the unique contributions.
        float[] plus = merge(String.format(yaml, "ramplus_tl"), W, new long[] {5}, in);
        assertArrayEquals(f(1 + 0.5 * 1.02, 1 - 0.3 * 1.02, 1.3, 1, 1), plus, 1e-6f);
        // Disjoint task vectors: rho = 0, so ramplus_tl adds both like ram.
        Map<String, float[]> disjoint = inputs("base", f(0, 0, 0), "a", f(0.5, 0, 0), "b", f(0, -0.25, 0));
        assertArrayEquals(f(0.5, -0.25, 0), merge(String.format(yaml, "ramplus_tl"), W, new long[] {3}, disjoint), 0f);
        assertTrue(TensorMerger.create(config(String.format(yaml, "ram")), 2).chunkable(W));
        assertFalse(TensorMerger.create(config(String.format(yaml, "ramplus_tl")), 2).chunkable(W));
    }

    @Test
    void configChecksNameTheKey() {
        String[][] cases = {
            {"merge_method: nearswap\nbase_model: a\nmodels: [{model: b}, {model: c}]\nparameters: {t: 1}", "models"},
            {"merge_method: nearswap\nbase_model: a\nmodels: [{model: b}]", "parameters.t"},
            {"merge_method: arcee_fusion\nmodels: [{model: a}, {model: b}]", "base_model"},
            {"merge_method: arcee_fusion\nbase_model: a\nmodels: [{model: b}, {model: c}]", "models"},
            {"merge_method: sce\nmodels: [{model: a}, {model: b}]", "base_model"},
            {"merge_method: ram\nbase_model: a\nmodels: [{model: a}]", "models"},
            {"merge_method: multislerp\nmodels: [{model: a}, {model: b, parameters: {weight: 1}}]", "weight"},
            {"merge_method: multislerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: -1}}]",
                "models: multislerp: the models' weights sum to 0"},
        };
        for (String[] c : cases) {
            BadInputException e = assertThrows(BadInputException.class, () -> {
                MergeConfig cfg = config(c[0]);
                TensorMerger.create(cfg, 2).params(W);
            }, c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
    }
}
