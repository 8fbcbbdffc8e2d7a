package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import java.util.Arrays;

/**
 * {@link Sparsifier.MagnitudeCut#topK} over a tensor that arrives in chunks: the cut keeping the
 * {@code k} largest of {@code |x_i - base_i|} among {@code n}, ties at the threshold by lower flat
 * index, so the kept elements are exactly the whole-tensor cut's.
 *
 * <p>Pass one histograms the magnitudes' high 16 bits and finds the bucket of ascending rank
 * {@code n - k} ({@link MagnitudeSelection}'s first pass), keeping each bucket's smallest and
 * largest low 16 bits as it goes. Where that bucket holds one value only, which is the rule for
 * BF16 and F16 checkpoints (a fine-tune's delta has few significant bits), the threshold is that
 * value. Otherwise pass two histograms the bucket's low 16 bits. The ties at the threshold that are
 * kept, the first {@code k - (above the threshold)} by index, are then counted as the keep bits
 * are built ({@link #bits}), chunk after chunk in ascending order, so no pass looks for the last
 * one. Memory: 768 KiB of counters, whatever {@code n}.
 */
final class StreamedMagnitudeCut {
    private static final int BUCKETS = 1 << 16;

    private final long n;
    private final long k;
    private long[] hist = new long[BUCKETS];
    private int[] lowMin = new int[BUCKETS];
    private int[] lowMax = new int[BUCKETS];
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
        Arrays.fill(lowMin, 0xFFFF);
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
                int b = m >>> 16;
                int low = m & 0xFFFF;
                hist[b]++;
                lowMin[b] = Math.min(lowMin[b], low);
                lowMax[b] = Math.max(lowMax[b], low);
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
        if (lowMin[high] == lowMax[high]) {
            long[] low = new long[BUCKETS];
            low[lowMin[high]] = hist[high];
            resolve(low);
        } else {
            Arrays.fill(hist, 0);
        }
        lowMin = null;
        lowMax = null;
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
     * The keep bits of chunk {@code [offset, offset + count)}, bit {@code i} for element
     * {@code offset + i}. The chunks of a scan come in ascending order from offset 0, which starts
     * a new scan: the ties at the threshold are kept while fewer than the allowed number have
     * been met.
     */
    long[] bits(float[] x, float[] base, long offset, int count) {
        if (!resolved) {
            throw new IllegalStateException("the cut is not resolved yet");
        }
        if (offset == 0) {
            tiesSeen = 0;
        } else if (offset != nextOffset) {
            throw new IllegalStateException("chunk at " + offset + ", expected " + nextOffset);
        }
        nextOffset = offset + count;
        long[] bits = KeepMask.none(count);
        long seen = tiesSeen;
        for (int word = 0; word < bits.length; word++) {
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
