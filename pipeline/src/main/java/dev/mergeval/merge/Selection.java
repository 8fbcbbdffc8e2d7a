package dev.mergeval.merge;

import java.util.Arrays;

/**
 * Exact order statistics by introselect: quickselect with a median-of-three pivot and three-way
 * partitioning (magnitudes often repeat, zeros especially), falling back to sorting the remaining
 * range when the recursion budget ({@code 2 * log2(n)}) runs out, so the worst case stays
 * O(n log n). Values are the raw bits of non-negative floats, whose integer order equals their
 * float order (and puts NaN above +Inf, as torch's sort does).
 */
public final class Selection {
    private Selection() {
    }

    /**
     * Returns the value that would be at position {@code k} (0-based) if {@code a[from, to)} were
     * sorted ascending; permutes that range.
     */
    public static int select(int[] a, int from, int to, int k) {
        if (k < from || k >= to) {
            throw new IllegalArgumentException("k=" + k + " outside [" + from + ", " + to + ")");
        }
        int lo = from;
        int hi = to - 1;
        int budget = 2 * (32 - Integer.numberOfLeadingZeros(Math.max(1, to - from)));
        while (lo < hi) {
            if (budget-- == 0) {
                Arrays.sort(a, lo, hi + 1);
                return a[k];
            }
            int pivot = medianOfThree(a[lo], a[lo + ((hi - lo) >>> 1)], a[hi]);
            // Dutch-flag partition: [lo, lt) < pivot, [lt, i) == pivot, (gt, hi] > pivot.
            int lt = lo;
            int gt = hi;
            int i = lo;
            while (i <= gt) {
                int v = a[i];
                if (v < pivot) {
                    a[i++] = a[lt];
                    a[lt++] = v;
                } else if (v > pivot) {
                    a[i] = a[gt];
                    a[gt--] = v;
                } else {
                    i++;
                }
            }
            if (k < lt) {
                hi = lt - 1;
            } else if (k > gt) {
                lo = gt + 1;
            } else {
                return pivot;
            }
        }
        return a[k];
    }

    private static int medianOfThree(int x, int y, int z) {
        return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    }
}
