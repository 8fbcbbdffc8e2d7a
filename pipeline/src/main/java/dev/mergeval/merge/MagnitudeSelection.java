package dev.mergeval.merge;

import java.util.Arrays;

/**
 * Exact order statistics of task-vector magnitudes {@code |x_i - base_i|} (computed in float, as
 * mergekit's float32 deltas) by two-pass radix selection, not a sort: magnitudes are non-negative
 * floats, whose raw bits order as integers (NaN above +Inf, as torch sorts). Pass one histograms the
 * high 16 bits and finds the bucket holding rank {@code k}; pass two histograms the low 16 bits
 * inside that bucket. O(n) time, no copy of the data, 256 KiB of counters.
 */
public final class MagnitudeSelection {
    private static final int BUCKETS = 1 << 16;

    private MagnitudeSelection() {
    }

    /**
     * The value at ascending rank {@code k} (0-based) and how many elements are below and equal to it.
     *
     * @param bits the value's float bits
     * @param below the number of elements strictly smaller
     * @param equal the number of elements equal to it
     */
    public record Rank(int bits, int below, int equal) {
        public float value() {
            return Float.intBitsToFloat(bits);
        }
    }

    /** Raw bits of {@code |x - base|} in float. */
    public static int magnitudeBits(float x, float base) {
        return Float.floatToRawIntBits(Math.abs(x - base));
    }

    /** The element of ascending rank {@code k} among {@code |x_i - base_i|}. */
    public static Rank select(float[] x, float[] base, int k) {
        int n = x.length;
        if (k < 0 || k >= n) {
            throw new IllegalArgumentException("rank " + k + " outside [0, " + n + ")");
        }
        int[] hist = new int[BUCKETS];
        for (int i = 0; i < n; i++) {
            hist[magnitudeBits(x[i], base[i]) >>> 16]++;
        }
        int below = 0;
        int high = 0;
        while (below + hist[high] <= k) {
            below += hist[high++];
        }
        Arrays.fill(hist, 0);
        for (int i = 0; i < n; i++) {
            int m = magnitudeBits(x[i], base[i]);
            if ((m >>> 16) == high) {
                hist[m & 0xFFFF]++;
            }
        }
        int low = 0;
        while (below + hist[low] <= k) {
            below += hist[low++];
        }
        return new Rank((high << 16) | low, below, hist[low]);
    }
}
