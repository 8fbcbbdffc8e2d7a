package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Breadcrumbs, DARE and DELLA through the public merger, with one model of weight 1 on a zero base
 * so the output is the sparsified task vector. Several cases port mergekit's tests/test_sparsify.py.
 */
class SparsificationTest {
    private static final String TENSOR = "model.layers.0.mlp.up_proj.weight";

    private static String single(String method, String modelParams, String globals) {
        return "merge_method: " + method + "\nbase_model: base\nmodels: [{model: x, parameters: {weight: 1.0"
                + modelParams + "}}]\nparameters: {" + globals + "}";
    }

    private static float[] sparsify(String yaml, long[] shape, float[] x, long seed) {
        return TensorMerger.create(Merges.config(yaml), 4).merge(TENSOR, shape, 0,
                inputs("base", new float[x.length], "x", x), seed);
    }

    private static int nonzero(float[] v) {
        int c = 0;
        for (float e : v) {
            c += e != 0 ? 1 : 0;
        }
        return c;
    }

    private static float[] sample(int n, long seed) {
        float[] t = Merges.random(new Random(seed), n, 1);
        for (int i = 0; i < n; i++) {
            t[i] = t[i] == 0 ? 7 : t[i];
        }
        return t;
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.01, 0.25})
    void breadcrumbsStridedOutlierSelection(double gamma) {
        // arange(1, 13).reshape(3, 4).T, density 0.5: keeps values in (largest - 6, largest] with
        // largest = 12 - int(12 gamma), n_top = 0 included (where mergekit keeps nothing: deviation 5).
        float[] t = f(1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12);
        float[] out = sparsify(single("breadcrumbs", ", density: 0.5, gamma: " + gamma, ""), new long[] {4, 3}, t, 0);
        int largest = 12 - (int) (gamma * 12);
        for (int i = 0; i < t.length; i++) {
            boolean keep = t[i] > largest - 6 && t[i] <= largest;
            assertEquals(keep ? t[i] : 0f, out[i], 0f, "element " + i);
        }
    }

    @Test
    void breadcrumbsKeepsExactlyTheTargetCount() {
        // mergekit test_outliers
        float[] t = sample(128 * 64, 1);
        for (double gamma0 : new double[] {0.1, 0.2, 0.5, 1.0}) {
            for (double density : new double[] {0.1, 0.3, 0.5, 0.6, 0.9, 1.0}) {
                double gamma = gamma0 * (1 - density);
                float[] out = sparsify(single("breadcrumbs", ", density: " + density + ", gamma: " + gamma, ""),
                        new long[] {128, 64}, t, 0);
                assertEquals((int) (t.length * density), nonzero(out), "gamma " + gamma + " density " + density);
            }
        }
    }

    @Test
    void breadcrumbsMatchesSortBasedReference() {
        Random rnd = new Random(5);
        int n = 3000;
        float[] t = new float[n];
        for (int i = 0; i < n; i++) {
            t[i] = (rnd.nextInt(41) - 20) / 4f;
        }
        double density = 0.4;
        double gamma = 0.05;
        float[] out = sparsify(single("breadcrumbs", ", density: 0.4, gamma: 0.05", ""), new long[] {n}, t, 0);
        Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> Math.abs(t[i]))); // stable ascending
        int nTop = (int) (gamma * n);
        int nBot = n - (int) (density * n) - nTop;
        float[] expected = new float[n];
        for (int r = nBot; r < n - nTop; r++) {
            expected[order[r]] = t[order[r]];
        }
        assertArrayEquals(expected, out, 0f);
    }

    @Test
    void tiesTrimmingCountsAndL1Rescale() {
        float[] t = sample(128 * 64, 2);
        float[] half = sparsify(single("ties", ", density: 0.5", "normalize: false"), new long[] {128, 64}, t, 0);
        assertEquals(t.length / 2, nonzero(half)); // mergekit test_partial_density
        float[] rescaled = sparsify(single("ties", ", density: 0.5", "normalize: false, rescale: true"),
                new long[] {128, 64}, t, 0);
        double l1 = 0;
        double l1r = 0;
        for (int i = 0; i < t.length; i++) {
            l1 += Math.abs(t[i]);
            l1r += Math.abs(rescaled[i]);
        }
        assertEquals(l1, l1r, l1 * 1e-5); // mergekit test_norm_rescale (l1)
        assertArrayEquals(t, sparsify(single("ties", ", density: 1", ""), new long[] {128, 64}, t, 0), 0f);
    }

    @Test
    void dareKeepsAboutDensityAndRescalesByL1() {
        float[] t = sample(128 * 64, 3);
        float[] out = sparsify(single("dare_linear", ", density: 0.5", ""), new long[] {128, 64}, t, 9);
        int kept = nonzero(out);
        assertTrue(Math.abs(kept - t.length / 2) < 4 * Math.sqrt(t.length * 0.25), "kept " + kept);
        double l1 = 0;
        double l1r = 0;
        for (int i = 0; i < t.length; i++) {
            l1 += Math.abs(t[i]);
            l1r += Math.abs(out[i]);
        }
        assertEquals(l1, l1r, l1 * 1e-5);
        float[] plain = sparsify(single("dare_linear", ", density: 0.5", "rescale: false"), new long[] {128, 64}, t, 9);
        for (int i = 0; i < t.length; i++) {
            assertTrue(plain[i] == 0 || plain[i] == t[i]);
            assertEquals(plain[i] != 0, out[i] != 0, "same mask whatever the rescale");
        }
    }

    @Test
    void dareMaskIsTheCounterBasedDraw() {
        float[] t = sample(200, 4);
        long seed = 1234;
        float[] out = sparsify(single("dare_linear", ", density: 0.3", "rescale_mode: inverse_density"),
                new long[] {10, 20}, t, seed);
        long key = KeyedRandom.counterKey(seed, TENSOR, 1);
        for (int i = 0; i < t.length; i++) {
            boolean keep = KeyedRandom.uniform(key, i) < 0.3;
            assertEquals(keep ? t[i] / 0.3 : 0.0, out[i], 1e-6, "element " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"dare_linear", "dare_ties"})
    void dareIsBitIdenticalAcrossChunkingsAndSeedDependent(String method) {
        Random rnd = new Random(8);
        int n = 1000;
        float[] base = Merges.random(rnd, n, 1);
        float[] a = Merges.add(base, Merges.random(rnd, n, 0.05));
        float[] b = Merges.add(base, Merges.random(rnd, n, 0.05));
        String yaml = "merge_method: " + method + "\nbase_model: base\nmodels:\n"
                + "  - {model: a, parameters: {weight: 0.7, density: 0.4}}\n"
                + "  - {model: b, parameters: {weight: 0.5, density: [0.2, 0.9]}}\n"
                + "parameters: {rescale_mode: inverse_density}";
        TensorMerger merger = TensorMerger.create(Merges.config(yaml), 8);
        String name = "model.layers.3.self_attn.q_proj.weight";
        long[] shape = {25, 40};
        assertTrue(merger.chunkable(name));
        float[] whole = merger.merge(name, shape, 0, inputs("base", base, "a", a, "b", b), 77);
        for (int chunk : new int[] {1, 7, n}) {
            float[] joined = new float[n];
            for (int from = 0; from < n; from += chunk) {
                int to = Math.min(n, from + chunk);
                float[] part = merger.merge(name, shape, from, inputs("base", Arrays.copyOfRange(base, from, to),
                        "a", Arrays.copyOfRange(a, from, to), "b", Arrays.copyOfRange(b, from, to)), 77);
                System.arraycopy(part, 0, joined, from, part.length);
            }
            assertArrayEquals(whole, joined, 0f, "chunk size " + chunk);
        }
        float[] again = merger.merge(name, shape, 0, inputs("base", base, "a", a, "b", b), 77);
        assertArrayEquals(whole, again, 0f);
        float[] otherSeed = merger.merge(name, shape, 0, inputs("base", base, "a", a, "b", b), 78);
        assertFalse(Arrays.equals(whole, otherSeed));
        float[] otherTensor = merger.merge("model.layers.3.self_attn.k_proj.weight", shape, 0,
                inputs("base", base, "a", a, "b", b), 77);
        assertNotEquals(Arrays.hashCode(whole), Arrays.hashCode(otherTensor));
        TensorMerger l1 = TensorMerger.create(Merges.config(yaml.replace("rescale_mode: inverse_density", "")), 8);
        assertFalse(l1.chunkable(name));
        assertThrows(IllegalArgumentException.class, () -> l1.merge(name, shape, 7,
                inputs("base", new float[3], "a", new float[3], "b", new float[3]), 77));
    }

    @Test
    void dellaKeepsByRankProbabilityAndRescalesByInverseProbability() {
        // One row of 5: magnitudes rank 0..4 -> p = density - eps + 2 eps r / 4.
        float[] t = f(0.3, -0.1, 0.5, -0.2, 0.4);
        double density = 0.5;
        double eps = 0.2;
        int[] rank = {2, 0, 4, 1, 3};
        String yaml = single("della_linear", ", density: 0.5, epsilon: 0.2", "rescale_mode: inverse_density");
        for (long seed = 0; seed < 20; seed++) {
            float[] out = sparsify(yaml, new long[] {1, 5}, t, seed);
            long key = KeyedRandom.counterKey(seed, TENSOR, 1);
            for (int i = 0; i < 5; i++) {
                double p = density - eps + 2 * eps * rank[i] / 4.0;
                boolean keep = KeyedRandom.uniform(key, i) < p;
                assertEquals(keep ? t[i] / p : 0.0, out[i], 1e-6, "seed " + seed + " element " + i);
            }
        }
    }

    @Test
    void dellaL1RescaleAndNoNaNs() {
        float[] t = sample(128 * 64, 6);
        float[] out = sparsify(single("della_linear", ", density: 0.5, epsilon: 0.05", ""), new long[] {128, 64}, t, 1);
        double l1 = 0;
        double l1r = 0;
        for (int i = 0; i < t.length; i++) {
            assertTrue(Float.isFinite(out[i]));
            l1 += Math.abs(t[i]);
            l1r += Math.abs(out[i]);
        }
        assertEquals(l1, l1r, l1 * 1e-5);
        float[] bias = sparsify(single("della", ", density: 0.5, epsilon: 0.1", ""), new long[] {64}, sample(64, 7), 1);
        for (float v : bias) {
            assertTrue(Float.isFinite(v));
        }
        float[] column = sparsify(single("della", ", density: 0.5, epsilon: 0.1", ""), new long[] {64, 1}, sample(64, 7), 1);
        for (float v : column) {
            assertTrue(Float.isFinite(v)); // rows of one element: mergekit divides 0 by 0 here
        }
    }

    @Test
    void dellaRejectsEpsilonOutsideDensityRange() {
        String yaml = single("della", ", density: 0.3, epsilon: 0.3", "");
        BadInputException e = assertThrows(BadInputException.class, () -> sparsify(yaml, new long[] {2, 3}, sample(6, 1), 0));
        assertTrue(e.getMessage().contains("epsilon"), e.getMessage());
    }

    @Test
    void resolvedParametersReachTheRightModel() {
        TensorParams p = TensorMerger.create(Merges.config(single("della", ", density: 0.4", "")), 4).params(TENSOR);
        assertEquals(Map.of("weight", 1.0, "density", 0.4, "epsilon", 0.15), Map.copyOf(p.perModel().get(1).asMap()));
        assertEquals(1, p.perModel().size() - 1);
        assertEquals(0, p.baseIndex());
    }
}
