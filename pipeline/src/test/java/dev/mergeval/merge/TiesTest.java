package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static dev.mergeval.merge.Merges.merge;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.mergeval.common.KeyedRandom;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** TIES: trimming by exact k-th magnitude, sign election, disjoint mean; against hand values and a sort-based reference. */
class TiesTest {
    private static final long[] SHAPE = {2, 3};
    private static final float[] BASE = f(1, 1, 1, 1, 1, 1);

    private static String ties(double w1, double w2, String globals) {
        return "merge_method: ties\nbase_model: base\nmodels: [{model: x1, parameters: {weight: " + w1
                + "}}, {model: x2, parameters: {weight: " + w2 + "}}]\nparameters: {" + globals + "}";
    }

    @Test
    void signElectionIncludingTiesAndZeroDeltas() {
        // d1 = (1,-1,0,2,0,-2), d2 = (0,2,0,-2,1,0), density 1 (no trimming).
        // sums: 1, 1, 0 (all zero -> nothing elected, divisor 0 -> 1), 0 (tie -> +), 1, -2
        float[] x1 = f(2, 0, 1, 3, 1, -1);
        float[] x2 = f(1, 3, 1, -1, 2, 1);
        float[] out = merge(ties(1, 1, ""), "w", SHAPE, inputs("base", BASE, "x1", x1, "x2", x2));
        assertArrayEquals(f(2, 3, 1, 3, 2, -1), out, 0f);
        float[] oneD = merge(ties(1, 1, ""), "b", new long[] {6}, inputs("base", BASE, "x1", x1, "x2", x2));
        assertArrayEquals(out, oneD, 0f);
    }

    @Test
    void trimmingKeepsTopKWithLowestIndexAmongThresholdTies() {
        // d1 = (1,-1,0,2,0,-2): k = int(0.5*6) = 3 keeps |2|,|2| and the first |1| (index 0), dropping index 1.
        // d2 = (0,0.5,0,-2,1,0): keeps 2, 1, 0.5 -> unchanged.
        // At index 1 the untrimmed vote would be -1 + 0.5 < 0; trimmed it is 0 + 0.5 -> 1 + 0.5.
        float[] x1 = f(2, 0, 1, 3, 1, -1);
        float[] x2 = f(1, 1.5, 1, -1, 2, 1);
        String yaml = ties(1, 1, "density: 0.5");
        assertArrayEquals(f(2, 1.5, 1, 3, 2, -1), merge(yaml, "w", SHAPE, inputs("base", BASE, "x1", x1, "x2", x2)), 0f);
    }

    @Test
    void electedWeightsSummingToZeroDivideByOne() {
        // w = (1, -1), d = (1, -1): weighted deltas (1, 1) agree; divisor 1 + (-1) = 0 -> 1.
        float[] out = merge(ties(1, -1, ""), "w", new long[] {1}, inputs("base", f(0), "x1", f(1), "x2", f(-1)));
        assertArrayEquals(f(2), out, 0f);
    }

    @Test
    void electedWeightsCancellingInFloat32DivideByOne() {
        // w = (0.1, 0.2, -0.3), d = (1, 1, -1): weighted deltas (0.1, 0.2, 0.3) agree; mergekit sums the
        // float32 weights, 0.1f + 0.2f - 0.3f == 0, and divides by 1 (in double the sum is 5.6e-17).
        String yaml = "merge_method: ties\nbase_model: base\nmodels: [{model: x1, parameters: {weight: 0.1}}, "
                + "{model: x2, parameters: {weight: 0.2}}, {model: x3, parameters: {weight: -0.3}}]";
        float[] out = merge(yaml, "w", new long[] {1}, inputs("base", f(1), "x1", f(2), "x2", f(2), "x3", f(0)));
        assertArrayEquals(f(1.6f), out, 1e-6f);
    }

    @Test
    void int8MaskDoesNotChangeTheResult() {
        Random rnd = new Random(3);
        float[] base = Merges.random(rnd, 600, 1);
        float[] x1 = Merges.add(base, Merges.random(rnd, 600, 0.1));
        float[] x2 = Merges.add(base, Merges.random(rnd, 600, 0.1));
        var in = inputs("base", base, "x1", x1, "x2", x2);
        assertArrayEquals(merge(ties(0.6, 0.4, "density: 0.3"), "w", new long[] {20, 30}, in),
                merge(ties(0.6, 0.4, "density: 0.3, int8_mask: true"), "w", new long[] {20, 30}, in), 0f);
    }

    @Test
    void zeroDensityDropsTheWholeTaskVector() {
        float[] out = merge(ties(1, 1, "density: 0.0"), "w", SHAPE,
                inputs("base", BASE, "x1", f(5, 5, 5, 5, 5, 5), "x2", f(0, 0, 0, 0, 0, 0)));
        assertArrayEquals(BASE, out, 0f);
    }

    @Test
    void matchesSortBasedReferenceOnRandomDataWithRepeatedMagnitudes() {
        Random rnd = new Random(11);
        int n = 5000;
        float[] base = new float[n];
        float[][] xs = new float[3][n];
        double[] w = {0.5, 0.3, -0.2};
        double[] density = {0.3, 0.55, 0.9};
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < n; i++) {
                xs[k][i] = (rnd.nextInt(21) - 10) / 8f; // many exact ties in |delta|
            }
        }
        String yaml = "merge_method: ties\nbase_model: base\nmodels:\n"
                + IntStream.range(0, 3).mapToObj(k -> "  - {model: x" + k + ", parameters: {weight: " + w[k]
                        + ", density: " + density[k] + "}}\n").reduce("", String::concat);
        float[] out = merge(yaml, "w", new long[] {50, 100}, inputs("base", base, "x0", xs[0], "x1", xs[1], "x2", xs[2]));

        double[][] trimmed = new double[3][n];
        for (int k = 0; k < 3; k++) {
            final float[] x = xs[k];
            Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
            // Stable sort by descending magnitude: equal magnitudes keep index order.
            Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -Math.abs(x[i] - base[i])));
            int keep = (int) (density[k] * n);
            for (int r = 0; r < keep; r++) {
                trimmed[k][order[r]] = x[order[r]] - base[order[r]];
            }
        }
        for (int i = 0; i < n; i++) {
            double vote = 0;
            for (int k = 0; k < 3; k++) {
                vote += w[k] * trimmed[k][i];
            }
            double sign = vote >= 0 ? 1 : -1;
            double sum = 0;
            double div = 0;
            for (int k = 0; k < 3; k++) {
                double e = w[k] * trimmed[k][i];
                if (Math.signum(e) == sign) {
                    sum += e;
                    div += w[k];
                }
            }
            double expected = base[i] + sum / (div == 0 ? 1 : div);
            assertEquals(expected, out[i], 1e-6, "element " + i);
        }
    }

    @Test
    void breadcrumbsTiesAndDareTiesMatchReferenceMasksWithElection() {
        Random rnd = new Random(21);
        int n = 2000;
        float[] base = Merges.random(rnd, n, 1);
        float[][] xs = {Merges.add(base, Merges.random(rnd, n, 0.1)), Merges.add(base, Merges.random(rnd, n, 0.1))};
        double[] w = {0.8, 0.6};
        var in = inputs("base", base, "x0", xs[0], "x1", xs[1]);
        long[] shape = {40, 50};
        String models = "base_model: base\nmodels:\n  - {model: x0, parameters: {weight: 0.8, density: 0.5}}\n"
                + "  - {model: x1, parameters: {weight: 0.6, density: 0.5}}\n";
        // breadcrumbs_ties: drop n_bot smallest and n_top largest magnitudes (gamma default 0.01), no rescale.
        double[][] kept = new double[2][n];
        for (int k = 0; k < 2; k++) {
            final float[] x = xs[k];
            Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingDouble((Integer i) -> Math.abs(x[i] - base[i])));
            int nTop = (int) (0.01 * n);
            int nBot = n - (int) (0.5 * n) - nTop;
            for (int r = nBot; r < n - nTop; r++) {
                kept[k][order[r]] = x[order[r]] - base[order[r]];
            }
        }
        float[] bc = merge("merge_method: breadcrumbs_ties\n" + models, "w", shape, in);
        assertElected(base, kept, w, false, bc);
        // dare_ties with rescale_mode inverse_density: keep where u < density, scale 1 / density.
        long seed = 42;
        double[][] dropped = new double[2][n];
        for (int k = 0; k < 2; k++) {
            long key = KeyedRandom.counterKey(seed, "w", k + 1);
            for (int i = 0; i < n; i++) {
                dropped[k][i] = KeyedRandom.uniform(key, i) < 0.5 ? (xs[k][i] - base[i]) / 0.5 : 0.0;
            }
        }
        float[] dt = merge("merge_method: dare_ties\n" + models + "parameters: {rescale_mode: inverse_density}", "w", shape, in);
        assertElected(base, dropped, w, false, dt);
    }

    private static void assertElected(float[] base, double[][] s, double[] w, boolean normalize, float[] actual) {
        for (int i = 0; i < base.length; i++) {
            double vote = 0;
            for (int k = 0; k < s.length; k++) {
                vote += w[k] * s[k][i];
            }
            double sign = vote >= 0 ? 1 : -1;
            double sum = 0;
            double div = 0;
            for (int k = 0; k < s.length; k++) {
                double e = w[k] * s[k][i];
                if (Math.signum(e) == sign) {
                    sum += e;
                    div += w[k];
                }
            }
            double expected = base[i] + (normalize ? sum / (div == 0 ? 1 : div) : sum);
            assertEquals(expected, actual[i], 1e-6, "element " + i);
        }
    }

    @Test
    void tiesIsNotChunkableButTaskArithmeticIs() {
        TensorMerger ties = TensorMerger.create(Merges.config(ties(1, 1, "density: 0.5")), 2);
        assertFalse(ties.chunkable("model.layers.0.mlp.down_proj.weight"));
        TensorMerger full = TensorMerger.create(Merges.config(ties(1, 1, "density: 1.0")), 2);
        assertEquals(true, full.chunkable("model.layers.0.mlp.down_proj.weight"));
    }
}
