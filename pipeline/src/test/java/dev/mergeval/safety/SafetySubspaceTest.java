package dev.mergeval.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.TruncatedSvd;
import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class SafetySubspaceTest {

    /** {@code sum_i s_i a_i b_i^T} with orthonormal a_i, b_i from a QR of random matrices, plus noise. */
    private static float[] lowRank(int rows, int cols, double[] s, double noise, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        DMatrixRMaj a = orthonormalColumns(rows, s.length, rng);
        DMatrixRMaj b = orthonormalColumns(cols, s.length, rng);
        float[] g = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double x = noise * (rng.nextDouble() - 0.5);
                for (int i = 0; i < s.length; i++) {
                    x += s[i] * a.get(r, i) * b.get(c, i);
                }
                g[r * cols + c] = (float) x;
            }
        }
        return g;
    }

    private static DMatrixRMaj orthonormalColumns(int n, int k, SplittableRandom rng) {
        DMatrixRMaj m = new DMatrixRMaj(n, k);
        for (int i = 0; i < m.getNumElements(); i++) {
            m.getData()[i] = rng.nextDouble() - 0.5;
        }
        var qr = org.ejml.dense.row.factory.DecompositionFactory_DDRM.qr(n, k);
        qr.decompose(m);
        return qr.getQ(null, true);
    }

    private static double norm(float[] x) {
        double s = 0;
        for (float v : x) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    @Test
    void recoversAKnownSpectrumAndItsEnergyShare() {
        float[] g = lowRank(40, 30, new double[] {5, 3, 2}, 0, 1);
        SafetySubspace top2 = SafetySubspace.of("w", g, 40, 30, 2);
        assertEquals(5, top2.s()[0], 1e-4);
        assertEquals(3, top2.s()[1], 1e-4);
        assertEquals((25.0 + 9) / (25 + 9 + 4), top2.cer(), 1e-6);
        SafetySubspace all = SafetySubspace.of("w", g, 40, 30, 3);
        assertEquals(1, all.cer(), 1e-6);
        // the whole gradient lies in its rank-3 subspace
        assertTrue(norm(all.removeFrom(g)) < 1e-4 * norm(g));
        assertEquals(25 + 9 + 4, all.inner(g), 1e-3);
    }

    @Test
    void theRemovedPartHasRankAtMostKAndNothingIsLeftInTheSubspace() {
        float[] g = lowRank(24, 18, new double[] {4, 2, 1, 0.5}, 0.1, 2);
        SafetySubspace sub = SafetySubspace.of("w", g, 24, 18, 2);
        float[] d = lowRank(24, 18, new double[] {1, 1, 1, 1, 1, 1}, 0.3, 3);
        float[] removed = sub.component(d);
        double[] sv = SafetySubspace.singularValues(removed, 24, 18);
        assertTrue(sv[1] > 1e-3, "the component has rank 2 here");
        assertTrue(sv[2] < 1e-5 * sv[0], "rank above k: " + sv[2]);
        float[] kept = sub.removeFrom(d);
        assertTrue(norm(sub.component(kept)) < 1e-5 * norm(d));
        assertEquals(0, sub.inner(kept), 1e-5 * norm(d) * norm(g));
        // D - P(D) + P(D) = D
        for (int i = 0; i < d.length; i++) {
            assertEquals(d[i], kept[i] + removed[i], 1e-5);
        }
    }

    @Test
    void theConflictTestIsTheSignOfTheFirstOrderSafetyChange() {
        float[] g = lowRank(16, 12, new double[] {3, 1}, 0.05, 4);
        SafetySubspace sub = SafetySubspace.of("w", g, 16, 12, 2);
        float[] minus = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            minus[i] = -g[i];
        }
        assertTrue(sub.inner(g) > 0);
        assertTrue(sub.inner(minus) < 0);
    }

    @Test
    void cerPicksTheSmallestRankThatKeepsTheShare() {
        float[] g = lowRank(30, 20, new double[] {4, 2, 1}, 0, 5);
        // shares: 16/21 = 0.762, 20/21 = 0.952, 1
        assertEquals(1, SafetySubspace.ofCer("w", g, 30, 20, 0.7).rank());
        assertEquals(2, SafetySubspace.ofCer("w", g, 30, 20, 0.9).rank());
        assertEquals(3, SafetySubspace.ofCer("w", g, 30, 20, 0.99).rank());
        assertEquals(16.0 / 21, SafetySubspace.cer(new double[] {4, 2, 1}, 1), 1e-12);
    }

    @Test
    void randomizedFactorsMatchTheExactOnesOnADecayingSpectrum() {
        float[] g = lowRank(200, 150, new double[] {10, 6, 4, 3, 2, 1}, 0.01, 6);
        DMatrixRMaj m = new DMatrixRMaj(200, 150);
        for (int i = 0; i < g.length; i++) {
            m.getData()[i] = g[i];
        }
        var exact = TruncatedSvd.exact(m);
        var fast = TruncatedSvd.randomized(m, 4, 0, "safety-subspace/model.layers.0.mlp.up_proj.weight");
        for (int i = 0; i < 4; i++) {
            assertEquals(exact.s()[i], fast.s()[i], 1e-4 * exact.s()[0]);
            double dot = 0;
            for (int r = 0; r < 200; r++) {
                dot += exact.left().get(r, i) * fast.left().get(r, i);
            }
            assertEquals(1, Math.abs(dot), 1e-4, "left vector " + i);
        }
        var again = TruncatedSvd.randomized(m, 4, 0, "safety-subspace/model.layers.0.mlp.up_proj.weight");
        assertArrayEquals(fast.s(), again.s(), "same tensor name, same draw");
    }

    @Test
    void aRankAboveTheMatrixRankNamesTheTensor() {
        float[] g = lowRank(6, 4, new double[] {1}, 0, 7);
        BadInputException e = assertThrows(BadInputException.class,
                () -> SafetySubspace.of("model.layers.1.self_attn.q_proj.weight", g, 6, 4, 5));
        assertTrue(e.getMessage().contains("model.layers.1.self_attn.q_proj.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("rank 5"), e.getMessage());
    }

    @Test
    void aZeroGradientNeverConflicts() {
        SafetySubspace sub = SafetySubspace.of("w", new float[12], 4, 3, 2);
        assertEquals(1, sub.cer());
        assertEquals(0, sub.inner(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    }
}
