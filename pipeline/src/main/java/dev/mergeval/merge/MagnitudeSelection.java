package dev.mergeval.merge;

/**
 * Exact order statistics of task-vector magnitudes {@code |x_i - base_i|} (computed in float, as
 * mergekit's float32 deltas) by two-pass radix selection, not a sort: magnitudes are non-negative
 * floats, whose raw bits order as integers (NaN above +Inf, as torch sorts). Pass one histograms the
 * high 16 bits and finds the bucket holding rank {@code k}; pass two histograms the low 16 bits
 * inside that bucket. O(n) time, no copy of the data, 256 KiB of counters. A caller that makes a
 * pass over the data anyway can run pass one alone ({@link #bucket}), collect the bucket's members
 * in its own pass and finish among them ({@link #selectAmong}), saving pass two.
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

    /**
     * Where rank {@code k} lies after the first pass of {@link #select}: the 16-bit bucket (the high
     * bits of the magnitudes) that holds it, how many magnitudes are in lower buckets and in it.
     */
    public record Bucket(int high, int below, int count) {
    }

    /** The element of ascending rank {@code k} (0-based) among {@code |x_i - base_i|}. */
    public static Rank select(float[] x, float[] base, int k) {
        Bucket bucket = bucket(x, base, k);
        int[] hist = new int[BUCKETS];
        for (int i = 0; i < x.length; i++) {
            int m = magnitudeBits(x[i], base[i]);
            if ((m >>> 16) == bucket.high()) {
                hist[m & 0xFFFF]++;
            }
        }
        return within(bucket, hist, k);
    }

    /** The first pass of {@link #select}: the bucket of rank {@code k}. */
    public static Bucket bucket(float[] x, float[] base, int k) {
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
        return new Bucket(high, below, hist[high]);
    }

    /**
     * {@link #select} finished from the flat indices of the magnitudes in rank {@code k}'s bucket
     * (all of them, as a pass over the data that met them collected them) instead of a second pass.
     */
    public static Rank selectAmong(float[] x, float[] base, int k, Bucket bucket, int[] members) {
        int[] hist = new int[BUCKETS];
        for (int i : members) {
            hist[magnitudeBits(x[i], base[i]) & 0xFFFF]++;
        }
        return within(bucket, hist, k);
    }

    /** Rank {@code k} from the histogram of the low 16 bits inside its bucket. */
    private static Rank within(Bucket bucket, int[] hist, int k) {
        int below = bucket.below();
        int low = 0;
        while (below + hist[low] <= k) {
            below += hist[low++];
        }
        return new Rank((bucket.high() << 16) | low, below, hist[low]);
    }
}
