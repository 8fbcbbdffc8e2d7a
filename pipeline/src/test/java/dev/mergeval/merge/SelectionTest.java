package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SelectionTest {
    @Test
    void kthMatchesSortOnRandomDataWithDuplicates() {
        Random rnd = new Random(17);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(trial < 100 ? 40 : 5000);
            int distinct = 1 + rnd.nextInt(trial % 3 == 0 ? 3 : 1000);
            int[] a = new int[n];
            for (int i = 0; i < n; i++) {
                a[i] = Float.floatToRawIntBits(rnd.nextInt(distinct) * 0.37f);
            }
            int[] sorted = a.clone();
            Arrays.sort(sorted);
            for (int probe = 0; probe < 5; probe++) {
                int k = rnd.nextInt(n);
                assertEquals(sorted[k], Selection.select(a.clone(), 0, n, k), "n=" + n + " k=" + k);
            }
        }
    }

    @Test
    void worstCaseInputsStayExact() {
        int n = 100_000;
        int[] ascending = new int[n];
        int[] organPipe = new int[n];
        for (int i = 0; i < n; i++) {
            ascending[i] = i;
            organPipe[i] = Math.min(i, n - i);
        }
        int[] sortedPipe = organPipe.clone();
        Arrays.sort(sortedPipe);
        for (int k : new int[] {0, 1, n / 3, n / 2, n - 1}) {
            assertEquals(k, Selection.select(ascending.clone(), 0, n, k));
            assertEquals(sortedPipe[k], Selection.select(organPipe.clone(), 0, n, k));
        }
        int[] same = new int[n];
        assertEquals(0, Selection.select(same, 0, n, n / 2));
    }

    @Test
    void nanBitsSortAboveInfinity() {
        int[] a = {Float.floatToRawIntBits(Float.NaN), Float.floatToRawIntBits(Float.POSITIVE_INFINITY),
            Float.floatToRawIntBits(1f)};
        assertEquals(Float.floatToRawIntBits(Float.NaN), Selection.select(a, 0, 3, 2));
    }
}
