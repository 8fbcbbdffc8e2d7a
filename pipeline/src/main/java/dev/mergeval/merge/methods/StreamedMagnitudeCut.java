package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * {@link Sparsifier.MagnitudeCut#topK} over a tensor that arrives in chunks: the cut keeping the
 * {@code k} largest of {@code |x_i - base_i|} among {@code n}, ties at the threshold by lower flat
 * index, so the kept elements are exactly the whole-tensor cut's.
 *
 * <p>Pass one histograms the magnitudes' high 16 bits and finds the bucket of ascending rank
 * {@code n - k} ({@link MagnitudeSelection}'s first pass), counting as it goes each bucket's members
 * whose low 16 bits are all zero: the bucket's smallest value. In a BF16 checkpoint most of a
 * fine-tune's deltas have no more significant bits than BF16 values do, so that value is usually
 * where rank {@code n - k} lies, and then it is the threshold. Otherwise pass two histograms the
 * bucket's low 16 bits. The ties at the threshold that are kept, the first
 * {@code k - (above the threshold)} by index, are counted as the keep is decided element by
 * element ({@link #bits}, {@link #keeps}), chunk after chunk in ascending order, so no pass looks
 * for the last one. Memory: 3 MiB of counters, whatever {@code n}, from the cut's first element to
 * its resolution; the thread keeps them for its next cut, as a tensor's worth of cuts would
 * otherwise fill the young generation every few tensors. A cut of at most {@value #DIRECT_MAX}
 * elements counts straight into the bucket counts, without lanes to sum (its few increments gain
 * nothing from them), and clears only the buckets up to its largest magnitude's: a fine-tune's
 * deltas are small (below 2^-3, a quarter of the buckets), and for a small tensor (the experts of a
 * mixture of experts) sweeping all 3 MiB cost several times the counting itself.
 */
final class StreamedMagnitudeCut implements StreamedTaskVectorMerge.Selection {
    private static final int BUCKETS = 1 << 16;

    private final long n;
    private long k;
    /** Lanes of pass one's counts, four per counter (see {@link #countHigh}); flushed into {@link Counters#hist}. */
    private static final int LANES = 4;
    /** The most elements a cut counts straight into {@link Counters#hist}, without lanes. */
    static final int DIRECT_MAX = 1 << 16;
    /** A lane's count stays below 2^31 when flushed once every this many elements. */
    private static final long FLUSH_EVERY = 1L << 32;

    /** The thread's free counter sets, each all zeros (see {@link Counters}). */
    private static final ThreadLocal<ArrayDeque<Counters>> FREE = ThreadLocal.withInitial(ArrayDeque::new);

    /** This cut's counters from its first element to its resolution, then the thread's again. */
    private Counters counters;
    private long sinceFlush;
    /** A small cut's largest high-bit bucket counted so far: the counters above it are all zeros. */
    private int topBucket;
    private boolean resolved;
    private boolean highPassDone;
    private int high;
    private long below;
    private int threshold;
    private long equalAllowed;
    private long belowThreshold;
    private long tiesSeen;
    private long nextOffset;

    /** The cut keeping the {@code k} largest of {@code n} magnitudes, {@code 0 < k <= n}. */
    StreamedMagnitudeCut(long n, long k) {
        this.n = n;
        keep(k);
    }

    /**
     * A cut whose {@code k} is known only once the first pass has been seen (SCE keeps a share of
     * the nonzero variances): {@link #keep} must give it before that pass ends.
     */
    StreamedMagnitudeCut(long n) {
        this.n = n;
    }

    /** Sets how many of the largest magnitudes to keep, {@code 0 < k <= n}, before the first pass ends. */
    void keep(long k) {
        if (k <= 0 || k > n) {
            throw new IllegalArgumentException("keep " + k + " of " + n);
        }
        if (highPassDone) {
            throw new IllegalStateException("keep set after the first pass");
        }
        this.k = k;
    }

    @Override
    public boolean needsPass() {
        return !resolved;
    }

    @Override
    public void observe(float[] x, float[] base, long offset, int count) {
        if (resolved) {
            throw new IllegalStateException("the cut is already resolved");
        }
        if (!highPassDone) {
            if (n <= DIRECT_MAX) {
                topBucket = Math.max(topBucket, countDirect(x, base, count, counters()));
                return;
            }
            if (sinceFlush + count >= FLUSH_EVERY) {
                flushLanes();
            }
            sinceFlush += count;
            countHigh(x, base, count, counters().lanes);
        } else {
            countLow(x, base, count, high, counters.hist);
        }
    }

    /**
     * Pass one: the count of each high-bit bucket and of its members whose low 16 bits are all
     * zero, one increment per element: the counter of (bucket, low bits zero or not, lane). A
     * fine-tune's magnitudes crowd into few buckets, so with one counter per bucket neighbouring
     * elements would wait on each other's increment: element i counts in lane i % 4, four elements
     * a step (the lane a constant offset; 20-25% fewer cycles than computing it per element).
     */
    private static void countHigh(float[] x, float[] base, int count, int[] lanes) {
        int i = 0;
        for (; i + LANES <= count; i += LANES) {
            lanes[slot(MagnitudeSelection.magnitudeBits(x[i], base[i]))]++;
            lanes[slot(MagnitudeSelection.magnitudeBits(x[i + 1], base[i + 1])) + 1]++;
            lanes[slot(MagnitudeSelection.magnitudeBits(x[i + 2], base[i + 2])) + 2]++;
            lanes[slot(MagnitudeSelection.magnitudeBits(x[i + 3], base[i + 3])) + 3]++;
        }
        for (; i < count; i++) {
            lanes[slot(MagnitudeSelection.magnitudeBits(x[i], base[i])) + (i & (LANES - 1))]++;
        }
    }

    /**
     * Lane 0's counter of magnitude bits {@code m}: {@code ((bucket << 1) | low bits nonzero) << 2}.
     * {@code (m + 0xFFFF) >>> 16} is the bucket, plus one exactly when the low 16 bits are not all
     * zero (unsigned, so right for the largest buckets too), and the bucket added gives
     * {@code 2 bucket + nonzero}.
     */
    private static int slot(int m) {
        return ((m >>> 16) + ((m + 0xFFFF) >>> 16)) << 2;
    }

    /** Pass one of a small cut: each bucket's count and its count of low bits all zero, directly. */
    private static int countDirect(float[] x, float[] base, int count, Counters c) {
        long[] hist = c.hist;
        long[] zeroLow = c.zeroLow;
        int top = 0;
        for (int i = 0; i < count; i++) {
            int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
            hist[m >>> 16]++;
            zeroLow[m >>> 16] += ((m & 0xFFFF) - 1) >>> 31;
            top = Math.max(top, m);
        }
        return top >>> 16;
    }

    /** Pass two: the counts of the low bits inside bucket {@code high}. */
    private static void countLow(float[] x, float[] base, int count, int high, long[] hist) {
        for (int i = 0; i < count; i++) {
            int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
            if ((m >>> 16) == high) {
                hist[m & 0xFFFF]++;
            }
        }
    }

    @Override
    public void endPass() {
        if (resolved) {
            throw new IllegalStateException("the cut is already resolved");
        }
        if (highPassDone) {
            resolve(counters().hist);
            return;
        }
        if (k == 0) {
            throw new IllegalStateException("the first pass ended before keep was set");
        }
        Counters c = counters();
        if (n > DIRECT_MAX) {
            flushLanes();
        }
        long[] hist = c.hist;
        long rank = n - k;
        while (below + hist[high] <= rank) {
            below += hist[high++];
        }
        highPassDone = true;
        long smallest = c.zeroLow[high];
        // A large cut sweeps every counter: one sweep is little beside its counting, which
        // tracking its largest bucket element by element would slow.
        int counted = n <= DIRECT_MAX ? topBucket + 1 : BUCKETS;
        Arrays.fill(hist, 0, counted, 0);
        Arrays.fill(c.zeroLow, 0, counted, 0);
        if (rank - below < smallest) {
            // Rank n - k is among the bucket's smallest value, whose low bits are zero.
            resolve(0, below, smallest);
        }
    }

    /** The counters, taken from the thread's free sets (or made) on first use. */
    private Counters counters() {
        if (counters == null) {
            Counters free = FREE.get().poll();
            counters = free != null ? free : new Counters();
        }
        return counters;
    }

    private void flushLanes() {
        Counters c = counters();
        int[] lanes = c.lanes;
        for (int bucket = 0, slot = 0; bucket < BUCKETS; bucket++) {
            long zero = 0;
            long nonzero = 0;
            for (int lane = 0; lane < LANES; lane++) {
                zero += lanes[slot++];
            }
            for (int lane = 0; lane < LANES; lane++) {
                nonzero += lanes[slot++];
            }
            c.hist[bucket] += zero + nonzero;
            c.zeroLow[bucket] += zero;
        }
        Arrays.fill(lanes, 0);
        sinceFlush = 0;
    }

    /** The threshold (rank {@code n - k}) from the low-bit histogram of its bucket. */
    private void resolve(long[] low) {
        long rank = n - k;
        long lowBelow = below;
        int bits = 0;
        while (lowBelow + low[bits] <= rank) {
            lowBelow += low[bits++];
        }
        long at = low[bits];
        Arrays.fill(low, 0);
        resolve(bits, lowBelow, at);
    }

    /**
     * Resolves the threshold at low bits {@code bits} of bucket {@link #high}, with {@code lowBelow}
     * magnitudes below it and {@code at} equal to it, and gives the counters back to the thread.
     */
    private void resolve(int bits, long lowBelow, long at) {
        threshold = (high << 16) | bits;
        belowThreshold = lowBelow;
        equalAllowed = k - (n - lowBelow - at);
        resolved = true;
        FREE.get().push(counters);
        counters = null;
    }

    /**
     * Pass one's lanes and the flushed counts, all zeros while free: pass one zeroes the lanes as
     * it flushes them, the end of each pass the histograms it read.
     */
    private static final class Counters {
        /**
         * Pass one's counts at {@code ((bucket << 1 | (low bits nonzero)) << 2) + lane}: those
         * with low bits all zero are the bucket's smallest value.
         */
        final int[] lanes = new int[2 * LANES * BUCKETS];
        final long[] hist = new long[BUCKETS];
        /** Per bucket, how many magnitudes have low 16 bits all zero. */
        final long[] zeroLow = new long[BUCKETS];
    }

    /**
     * The keep bits of chunk {@code [offset, offset + count)} into {@code bits} (returned), bit
     * {@code i} for element {@code offset + i}. The chunks of a scan come in ascending order from
     * offset 0, which starts a new scan: the ties at the threshold are kept while no more than
     * the allowed number have been met.
     */
    @Override
    public long[] bits(float[] x, float[] base, long offset, int count, long[] bits) {
        long seen = startChunk(offset, count);
        for (int word = 0, words = (count + 63) >>> 6; word < words; word++) {
            long keep = 0;
            for (int i = word << 6, end = Math.min(count, i + 64); i < end; i++) {
                int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                long tie = tie(m, threshold);
                seen += tie;
                keep |= keeps(m, threshold, tie, seen, equalAllowed) << i;
            }
            bits[word] = keep;
        }
        endChunk(seen);
        return bits;
    }

    /**
     * Starts chunk {@code [offset, offset + count)} of a scan (see {@link #bits}) for a caller that
     * decides element by element with {@link #tie} and {@link #keeps}; returns the ties at the
     * threshold met before it, to be counted on and handed to {@link #endChunk}.
     */
    long startChunk(long offset, int count) {
        if (!resolved) {
            throw new IllegalStateException("the cut is not resolved yet");
        }
        if (offset == 0) {
            tiesSeen = 0;
        } else if (offset != nextOffset) {
            throw new IllegalStateException("chunk at " + offset + ", expected " + nextOffset);
        }
        nextOffset = offset + count;
        return tiesSeen;
    }

    /** Ends the chunk {@link #startChunk} began, with the ties met up to its end. */
    void endChunk(long seen) {
        tiesSeen = seen;
    }

    int threshold() {
        return threshold;
    }

    /** How many magnitudes are below the threshold. */
    long belowThreshold() {
        return belowThreshold;
    }

    /** How many of the ties at the threshold are kept. */
    long equalAllowed() {
        return equalAllowed;
    }

    /** 1 when magnitude bits {@code m} equal the threshold, else 0; branch-free. */
    static long tie(int m, int threshold) {
        // Magnitude bits are non-negative, so (m ^ threshold) - 1 is negative exactly when they are equal.
        return ((long) (m ^ threshold) - 1) >>> 63;
    }

    /**
     * 1 when the element of magnitude bits {@code m} is kept, else 0, branch-free: above the
     * threshold, or a tie ({@code tie} from {@link #tie}) that is the {@code seen}-th met, counting
     * it, and no later than the {@code equalAllowed}-th.
     */
    static long keeps(int m, int threshold, long tie, long seen, long equalAllowed) {
        long above = ((long) threshold - m) >>> 63;
        return above | (tie & ((seen - equalAllowed - 1) >>> 63));
    }
}
