package dev.mergeval.merge.methods;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.merge.MagnitudeSelection;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Consensus;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The combiner's fast paths against its general block path, bit for bit, on edge values: zeros of
 * both signs, deltas of equal magnitude and opposite sign, infinities, NaNs, zero and negative
 * weights, masks that keep all, some (scaled) or none.
 */
class TaskVectorCombinerTest {
    @Test
    void oneTaskVectorFastPathMatchesTheBlockPathBitForBit() {
        Random rnd = new Random(7);
        int n = 5000;
        float[] base = new float[n];
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            base[i] = (float) (rnd.nextGaussian() * 0.02);
            x[i] = base[i] + (float) (rnd.nextGaussian() * 0.02);
            switch (rnd.nextInt(10)) {
                case 0 -> x[i] = base[i];
                case 1 -> {
                    base[i] = rnd.nextBoolean() ? 0f : -0f;
                    x[i] = rnd.nextBoolean() ? 0f : -0f;
                }
                case 2 -> {
                    base[i] = 0.5f;
                    x[i] = rnd.nextBoolean() ? 0.75f : 0.25f;
                }
                case 3 -> x[i] = switch (rnd.nextInt(4)) {
                    case 0 -> Float.NaN;
                    case 1 -> Float.POSITIVE_INFINITY;
                    case 2 -> Float.NEGATIVE_INFINITY;
                    default -> Float.MIN_VALUE;
                };
                default -> { }
            }
        }
        long[] some = KeepMask.none(n);
        for (int i = 0; i < n; i++) {
            if (rnd.nextBoolean()) {
                some[i >>> 6] |= 1L << i;
            }
        }
        KeepMask[] masks = {KeepMask.ALL, new KeepMask(some, 1.0, null), new KeepMask(some, 1.7, null),
            new KeepMask(KeepMask.none(n), 1.0, null)};
        int cases = 0;
        for (KeepMask mask : masks) {
            for (double w : new double[] {1.0, 0.6, -0.5, 0.0, -0.0, 1e-300, 1e300, Double.MIN_VALUE}) {
                for (boolean normalize : new boolean[] {true, false}) {
                    for (double lambda : new double[] {1.0, 0.7, -1.3}) {
                        TaskVectorCombiner combiner = new TaskVectorCombiner(Consensus.SUM, new float[][] {x}, base,
                                new double[] {w}, new KeepMask[] {mask}, w, normalize, lambda);
                        float[] fast = combiner.combine();
                        float[] general = combiner.combineByBlocks(new float[n]);
                        assertArrayEquals(rawBits(general), rawBits(fast),
                                "w " + w + ", normalize " + normalize + ", lambda " + lambda);
                        cases++;
                    }
                }
            }
        }
        assertEquals(192, cases);
    }

    @Test
    void magnitudeCutKeepsTheTopKWithLowIndicesFirstAmongTiesAndTheFastPathMatches() {
        Random rnd = new Random(9);
        int n = 3000;
        // Few distinct magnitudes: the cut's 16-bit bucket holds more than an eighth of them.
        float[] coarseBase = new float[n];
        float[] coarse = new float[n];
        // Normal deltas on a grid of 2^-12 (as BF16 deltas): ties at the cut, but a small bucket.
        float[] gridBase = new float[n];
        float[] grid = new float[n];
        for (int i = 0; i < n; i++) {
            coarseBase[i] = rnd.nextInt(5) == 0 ? -0f : 0.25f * rnd.nextInt(3);
            coarse[i] = coarseBase[i] + (rnd.nextInt(9) - 4) * 0.125f;
            gridBase[i] = (float) (rnd.nextGaussian() * 0.02);
            grid[i] = gridBase[i] + Math.round(rnd.nextGaussian() * 0.02 * 4096) / 4096f;
            if (rnd.nextInt(500) == 0) {
                coarse[i] = rnd.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY;
                grid[i] = rnd.nextBoolean() ? Float.NaN : Float.POSITIVE_INFINITY;
            }
        }
        // Both ways of finding the cut on the fast path are taken.
        assertTrue(cutMatchesReferenceAndFastPath(coarse, coarseBase) > 0);
        assertTrue(cutMatchesReferenceAndFastPath(grid, gridBase) < 6);
    }

    /** Checks six densities; returns at how many the cut's bucket holds more than an eighth of the elements. */
    private static int cutMatchesReferenceAndFastPath(float[] x, float[] base) {
        int n = x.length;
        int wide = 0;
        for (double density : new double[] {0.001, 0.1, 0.37, 0.5, 0.9, 0.9999}) {
            int k = (int) (density * n);
            wide += MagnitudeSelection.bucket(x, base, n - k).count() > n / 8 ? 1 : 0;
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            // Stable sort by descending magnitude bits: among equal magnitudes the lower index first.
            Arrays.sort(order, (a, b) -> Integer.compare(magnitude(x, base, b), magnitude(x, base, a)));
            boolean[] expected = new boolean[n];
            for (int r = 0; r < k; r++) {
                expected[order[r]] = true;
            }
            KeepMask mask = Sparsifier.magnitude(x, base, density, null);
            for (int i = 0; i < n; i++) {
                assertEquals(expected[i], mask.kept(i), "density " + density + ", element " + i);
            }
            for (boolean normalize : new boolean[] {true, false}) {
                // A fresh mask each: the fast path must find the cut itself, never reading built bits.
                TaskVectorCombiner fast = new TaskVectorCombiner(Consensus.SUM, new float[][] {x}, base,
                        new double[] {0.7}, new KeepMask[] {Sparsifier.magnitude(x, base, density, null)}, 0.7,
                        normalize, 0.9);
                TaskVectorCombiner general = new TaskVectorCombiner(Consensus.SUM, new float[][] {x}, base,
                        new double[] {0.7}, new KeepMask[] {Sparsifier.magnitude(x, base, density, null)}, 0.7,
                        normalize, 0.9);
                assertArrayEquals(rawBits(general.combineByBlocks(new float[n])), rawBits(fast.combine()),
                        "density " + density + ", normalize " + normalize);
            }
        }
        return wide;
    }

    @Test
    void blockElectionMatchesTheScalarFormulaWithTinyAndCancellingWeights() {
        Random rnd = new Random(13);
        int n = 2500;
        float[] base = new float[n];
        float[][] xs = new float[3][n];
        for (int i = 0; i < n; i++) {
            base[i] = rnd.nextInt(4) == 0 ? -0f : (float) (rnd.nextGaussian() * 0.02);
            for (int k = 0; k < 3; k++) {
                xs[k][i] = switch (rnd.nextInt(6)) {
                    case 0 -> base[i];
                    case 1 -> base[i] + (rnd.nextBoolean() ? 0.25f : -0.25f);
                    case 2 -> rnd.nextBoolean() ? Float.POSITIVE_INFINITY : 1e-40f;
                    default -> base[i] + (float) (rnd.nextGaussian() * 0.02);
                };
            }
        }
        double[][] weightSets = {{1, -1, 0.5}, {Double.MIN_VALUE, -Double.MIN_VALUE, 1e-300}, {0.6, 0.4, -0.0},
            {1e300, 1e300, -1e300}, {0.1, 0.2, -0.3}, {0.3, -0.1, -0.2}};
        for (int m = 2; m <= 3; m++) {
            for (double[] weights : weightSets) {
                double[] w = Arrays.copyOf(weights, m);
                float[][] x = Arrays.copyOf(xs, m);
                KeepMask[] all = new KeepMask[m];
                Arrays.fill(all, KeepMask.ALL);
                for (boolean normalize : new boolean[] {true, false}) {
                    float[] out = new TaskVectorCombiner(Consensus.SUM, x, base, w, all, 0, normalize, 0.9).combine();
                    for (int i = 0; i < n; i++) {
                        float expected = scalarTies(x, base, w, normalize, 0.9, i);
                        String where = "element " + i + ", weights " + Arrays.toString(w);
                        if (Float.isNaN(expected)) {
                            // Which NaN payload survives depends on the JIT (vector or scalar max).
                            assertTrue(Float.isNaN(out[i]), where);
                        } else {
                            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[i]), where);
                        }
                    }
                }
            }
        }
    }

    /**
     * Sign-elected merge of element {@code i} written plainly, as mergekit's formula: its divisor is
     * 1 where the agreeing weights sum to 0 in float32, as mergekit sums them (for weights that are
     * normal floats; others in double alone), or in double.
     */
    private static float scalarTies(float[][] x, float[] base, double[] w, boolean normalize, double lambda, int i) {
        double[] e = new double[x.length];
        double vote = 0.0;
        for (int k = 0; k < x.length; k++) {
            e[k] = w[k] * (x[k][i] - base[i]);
            vote += e[k];
        }
        double sign = Math.copySign(1.0, vote + 0.0);
        double mixed = 0.0;
        double divisor = 0.0;
        float single = 0f;
        boolean normal = Arrays.stream(w).allMatch(wk -> wk == 0 || (float) wk != 0 && Float.isFinite((float) wk)
                && Math.abs((float) wk) >= Float.MIN_NORMAL);
        for (int k = 0; k < x.length; k++) {
            // A NaN always counts: mergekit's max(e * sign, 0) propagates it.
            if (e[k] * sign > 0 || Double.isNaN(e[k])) {
                mixed += e[k];
                divisor += w[k];
                single += (float) w[k];
            }
        }
        divisor = divisor == 0 || normal && single == 0 ? 1.0 : divisor;
        return (float) (base[i] + lambda * (normalize ? mixed / divisor : mixed));
    }

    private static int magnitude(float[] x, float[] base, int i) {
        return Float.floatToRawIntBits(Math.abs(x[i] - base[i]));
    }

    private static int[] rawBits(float[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Float.floatToRawIntBits(v[i]);
        }
        return out;
    }
}
