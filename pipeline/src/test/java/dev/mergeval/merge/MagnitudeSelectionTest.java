package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MagnitudeSelectionTest {
    private static void check(float[] x, float[] base, int k) {
        int n = x.length;
        float[] sorted = new float[n];
        for (int i = 0; i < n; i++) {
            sorted[i] = Math.abs(x[i] - base[i]);
        }
        Arrays.sort(sorted);
        MagnitudeSelection.Rank r = MagnitudeSelection.select(x, base, k);
        assertEquals(sorted[k], r.value(), 0f, "n=" + n + " k=" + k);
        int below = 0;
        int equal = 0;
        for (float v : sorted) {
            below += v < sorted[k] ? 1 : 0;
            equal += v == sorted[k] ? 1 : 0;
        }
        assertEquals(below, r.below());
        assertEquals(equal, r.equal());
    }

    @Test
    void kthMatchesSortOnRandomDataWithDuplicates() {
        Random rnd = new Random(17);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(trial < 100 ? 40 : 5000);
            int distinct = 1 + rnd.nextInt(trial % 3 == 0 ? 3 : 1000);
            float[] x = new float[n];
            float[] base = new float[n];
            for (int i = 0; i < n; i++) {
                base[i] = (float) rnd.nextGaussian();
                x[i] = base[i] + (rnd.nextInt(distinct) - distinct / 2) * 0.37f;
            }
            for (int probe = 0; probe < 5; probe++) {
                check(x, base, rnd.nextInt(n));
            }
            check(x, base, 0);
            check(x, base, n - 1);
        }
    }

    @Test
    void spansTheWholeFloatRange() {
        float[] x = {Float.MAX_VALUE, Float.MIN_VALUE, 0f, -0f, 1e-30f, -1e30f, Float.POSITIVE_INFINITY, 3f};
        float[] base = new float[x.length];
        for (int k = 0; k < x.length; k++) {
            check(x, base, k);
        }
        float[] nan = {Float.NaN, Float.POSITIVE_INFINITY, 1f};
        assertEquals(Float.floatToRawIntBits(Float.NaN), MagnitudeSelection.select(nan, new float[3], 2).bits());
    }
}
