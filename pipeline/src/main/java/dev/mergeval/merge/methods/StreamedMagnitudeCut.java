package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import java.util.Arrays;

/**
 * {@link Sparsifier.MagnitudeCut#topK} over a tensor that arrives in chunks: the cut keeping the
 * {@code k} largest of {@code |x_i - base_i|} among {@code n}, ties at the threshold by lower flat
 * index, so the kept elements are exactly the whole-tensor cut's.
 *
 * <p>Pass one histograms the magnitudes' high 16 bits and finds the bucket of ascending rank
 * {@code n - k} ({@link MagnitudeSelection}'s first pass), keeping each bucket's OR of low 16
 * bits as it goes. Where those are all zero in that bucket, which is the rule for BF16 checkpoints
 * (a fine-tune's delta of two BF16 values mostly has no more significant bits than they do), the
 * threshold is the bucket's one value. Otherwise pass two histograms the bucket's low 16 bits. The ties at the threshold that are
 * kept, the first {@code k - (above the threshold)} by index, are then counted as the keep bits
 * are built ({@link #bits}), chunk after chunk in ascending order, so no pass looks for the last
 * one. Memory: 768 KiB of counters and flags, whatever {@code n}.
 */
final class StreamedMagnitudeCut {
    private static final int BUCKETS = 1 << 16;

    private final long n;
    private final long k;
    private long[] hist = new long[BUCKETS];
    /** Per bucket, the OR of its magnitudes' low 16 bits: zero when the bucket holds one value only. */
    private int[] lowBits = new int[BUCKETS];
    private boolean resolved;
    private boolean highPassDone;
    private int high;
    private long below;
    private int threshold;
    private long equalAllowed;
    private long tiesSeen;
    private long nextOffset;

    /** The cut keeping the {@code k} largest of {@code n} magnitudes, {@code 0 < k <= n}. */
    StreamedMagnitudeCut(long n, long k) {
        if (k <= 0 || k > n) {
            throw new IllegalArgumentException("keep " + k + " of " + n);
        }
        this.n = n;
        this.k = k;
    }

    boolean needsPass() {
        return !resolved;
    }

    /** Elements {@code [offset, offset + count)} of the current pass. */
    void observe(float[] x, float[] base, long offset, int count) {
        if (resolved) {
            throw new IllegalStateException("the cut is already resolved");
        }
        if (!highPassDone) {
            for (int i = 0; i < count; i++) {
                int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                hist[m >>> 16]++;
                lowBits[m >>> 16] |= m & 0xFFFF;
            }
            return;
        }
        for (int i = 0; i < count; i++) {
            int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
            if ((m >>> 16) == high) {
                hist[m & 0xFFFF]++;
            }
        }
    }

    void endPass() {
        if (resolved) {
            throw new IllegalStateException("the cut is already resolved");
        }
        if (highPassDone) {
            resolve(hist);
            return;
        }
        long rank = n - k;
        while (below + hist[high] <= rank) {
            below += hist[high++];
        }
        highPassDone = true;
        if (lowBits[high] == 0) {
            long[] low = new long[BUCKETS];
            low[0] = hist[high];
            resolve(low);
        } else {
            Arrays.fill(hist, 0);
        }
        lowBits = null;
    }

    /** The threshold (rank {@code n - k}) from the low-bit histogram of its bucket. */
    private void resolve(long[] low) {
        long rank = n - k;
        long lowBelow = below;
        int bits = 0;
        while (lowBelow + low[bits] <= rank) {
            lowBelow += low[bits++];
        }
        threshold = (high << 16) | bits;
        equalAllowed = k - (n - lowBelow - low[bits]);
        hist = null;
        resolved = true;
    }

    /**
     * The keep bits of chunk {@code [offset, offset + count)} into {@code bits} (returned), bit
     * {@code i} for element {@code offset + i}. The chunks of a scan come in ascending order from offset 0, which starts
     * a new scan: the ties at the threshold are kept while fewer than the allowed number have
     * been met.
     */
    long[] bits(float[] x, float[] base, long offset, int count, long[] bits) {
        if (!resolved) {
            throw new IllegalStateException("the cut is not resolved yet");
        }
        if (offset == 0) {
            tiesSeen = 0;
        } else if (offset != nextOffset) {
            throw new IllegalStateException("chunk at " + offset + ", expected " + nextOffset);
        }
        nextOffset = offset + count;
        long seen = tiesSeen;
        for (int word = 0, words = (count + 63) >>> 6; word < words; word++) {
            long keep = 0;
            for (int i = word << 6, end = Math.min(count, i + 64); i < end; i++) {
                int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                long above = ((long) threshold - m) >>> 63;
                // Magnitude bits are non-negative, so (m ^ threshold) - 1 is negative exactly when they are equal.
                long tie = ((long) (m ^ threshold) - 1) >>> 63;
                seen += tie;
                keep |= (above | (tie & ((seen - equalAllowed - 1) >>> 63))) << i;
            }
            bits[word] = keep;
        }
        tiesSeen = seen;
        return bits;
    }
}
