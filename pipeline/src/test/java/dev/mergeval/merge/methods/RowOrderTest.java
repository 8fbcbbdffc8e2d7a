package dev.mergeval.merge.methods;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RowOrderTest {

    @Test
    void radixOrderIsTheComparisonSortsWithTiesInColumnOrder() {
        Random rnd = new Random(41);
        for (int cols : new int[] {1, 2, 7, 64, 1001, 4096}) {
            // Magnitudes: wide (every digit differs), the two low digits, the low one only, and mostly equal.
            for (int spread : new int[] {Integer.MAX_VALUE, 1 << 13, 256, 3}) {
                Sparsifier.RowOrder rows = new Sparsifier.RowOrder(cols + 5);
                long[] expected = new long[cols];
                for (int c = 0; c < cols; c++) {
                    long m = spread == Integer.MAX_VALUE ? rnd.nextInt(spread) : 0x3C000000L + rnd.nextInt(spread);
                    rows.order[c] = (m << 32) | c;
                    expected[c] = rows.order[c];
                }
                Arrays.sort(expected);
                rows.sort(cols);
                assertArrayEquals(expected, Arrays.copyOf(rows.order, cols), cols + " columns, spread " + spread);
            }
        }
    }
}
