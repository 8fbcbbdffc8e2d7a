package dev.mergeval.merge.methods;

import dev.mergeval.common.KeyedRandom;
import dev.mergeval.merge.MagnitudeSelection;
import java.util.Arrays;

/**
 * Task-vector sparsification as mergekit's {@code sparsify.py}, on {@code d = x - base} formed in
 * float. Magnitudes are compared as float bit patterns, so ties are float32 ties, as in mergekit;
 * thresholds are exact order statistics found by {@link MagnitudeSelection}, not by sorting.
 * mergekit breaks ties at a threshold with an unstable sort; here the lower flat index wins, i.e.
 * the result equals that of a stable sort, which is one of the outcomes mergekit can produce.
 */
final class Sparsifier {
    /** How survivors are rescaled when {@code rescale} is on. */
    enum RescaleMode {
        /** mergekit: {@code masked * (|d|_1 / |masked|_1)}, skipped if either norm is below 1e-7. */
        L1,
        /** DARE/DELLA papers: {@code masked / p} (p = density, or DELLA's per-element probability). */
        INVERSE_DENSITY
    }

    private static final double L1_EPS = 1e-7;

    private Sparsifier() {
    }

    /**
     * TIES trimming: keeps the {@code k = int(density * n)} largest magnitudes; among elements equal
     * to the k-th largest, the lowest indices.
     */
    static KeepMask magnitude(float[] x, float[] base, double density, RescaleMode rescale) {
        int n = x.length;
        if (density >= 1) {
            return KeepMask.ALL;
        }
        int k = (int) (density * n);
        if (k <= 0) {
            return new KeepMask(KeepMask.none(n), 1.0, null);
        }
        if (rescale == null) {
            return new KeepMask(x, base, k);
        }
        return rescaled(x, base, MagnitudeCut.topKBits(x, base, k), rescale, density);
    }

    /**
     * The {@code k} largest magnitudes as a per-element test: magnitudes (float bits) above
     * {@code threshold} are kept, and of those equal to it the ones at indices below {@code tieEnd}.
     */
    record MagnitudeCut(int threshold, int tieEnd) {

        /** The cut keeping the {@code k} largest of {@code |x_i - base_i|}, {@code 0 < k <= n}. */
        static MagnitudeCut topK(float[] x, float[] base, int k) {
            return of(x, base, k, MagnitudeSelection.select(x, base, x.length - k), null);
        }

        /**
         * The keep bits of the {@code k} largest magnitudes, as {@link #bits} of {@link #topK} but in
         * two passes, not three: after the selection's first pass, the bits are built as if rank
         * {@code n - k}'s whole 16-bit bucket were dropped while its members are collected, and once
         * the cut is resolved among them only their bits are set. A bucket holding more than an
         * eighth of the elements (a degenerate spread) goes the three-pass way.
         */
        static long[] topKBits(float[] x, float[] base, int k) {
            int n = x.length;
            MagnitudeSelection.Bucket bucket = MagnitudeSelection.bucket(x, base, n - k);
            if (bucket.count() > n / 8) {
                return topK(x, base, k).bits(x, base);
            }
            int high = bucket.high();
            int[] members = new int[bucket.count()];
            int found = 0;
            long[] bits = KeepMask.none(n);
            for (int word = 0; word < bits.length; word++) {
                long keep = 0;
                for (int i = word << 6, end = Math.min(n, i + 64); i < end; i++) {
                    int bucketOf = MagnitudeSelection.magnitudeBits(x[i], base[i]) >>> 16;
                    keep |= (((long) high - bucketOf) >>> 63) << i;
                    if (bucketOf == high) {
                        members[found++] = i;
                    }
                }
                bits[word] = keep;
            }
            MagnitudeCut cut = among(x, base, k, bucket, members);
            for (int i : members) {
                bits[i >>> 6] |= cut.keeps(MagnitudeSelection.magnitudeBits(x[i], base[i]), i) << i;
            }
            return bits;
        }

        /**
         * The cut keeping the {@code k} largest, resolved among {@code members}: the indices
         * (ascending) of every magnitude in the 16-bit bucket of rank {@code n - k}.
         */
        static MagnitudeCut among(float[] x, float[] base, int k, MagnitudeSelection.Bucket bucket, int[] members) {
            return of(x, base, k, MagnitudeSelection.selectAmong(x, base, x.length - k, bucket, members), members);
        }

        /**
         * The cut keeping the {@code k} largest, given the magnitude of ascending rank {@code n - k}
         * and, if not null, the indices (ascending) of every magnitude in its 16-bit bucket.
         */
        static MagnitudeCut of(float[] x, float[] base, int k, MagnitudeSelection.Rank kth, int[] members) {
            int n = x.length;
            int threshold = kth.bits();
            int equalAllowed = k - (n - kth.below() - kth.equal());
            if (equalAllowed == kth.equal()) {
                return new MagnitudeCut(threshold, n);
            }
            // Only some of the ties are kept: the first equalAllowed (>= 1) of them.
            int seen = 0;
            if (members != null) {
                for (int i : members) {
                    if (MagnitudeSelection.magnitudeBits(x[i], base[i]) == threshold && ++seen == equalAllowed) {
                        return new MagnitudeCut(threshold, i + 1);
                    }
                }
            }
            for (int i = 0; ; i++) {
                if (MagnitudeSelection.magnitudeBits(x[i], base[i]) == threshold && ++seen == equalAllowed) {
                    return new MagnitudeCut(threshold, i + 1);
                }
            }
        }

        /** 1 when element {@code i}, of magnitude bits {@code m}, is kept, else 0; branch-free. */
        long keeps(int m, int i) {
            long above = ((long) threshold - m) >>> 63;
            // Magnitude bits are non-negative, so m ^ threshold - 1 is negative exactly when they are equal.
            long tie = (((long) (m ^ threshold) - 1) >>> 63) & (((long) i - tieEnd) >>> 63);
            return above | tie;
        }

        /** The keep bits of {@code x - base} under this cut. */
        long[] bits(float[] x, float[] base) {
            int n = x.length;
            long[] bits = KeepMask.none(n);
            for (int word = 0; word < bits.length; word++) {
                long keep = 0;
                for (int i = word << 6, end = Math.min(n, i + 64); i < end; i++) {
                    int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                    keep |= (((long) threshold - m) >>> 63) << i;
                    if (m == threshold && i < tieEnd) {
                        // Rare (ties at the threshold), so this branch predicts well.
                        keep |= 1L << i;
                    }
                }
                bits[word] = keep;
            }
            return bits;
        }
    }

    /**
     * Breadcrumbs: in ascending magnitude order, drops the {@code n_bot} smallest and the
     * {@code n_top} largest, {@code n_top = int(gamma * n)}, {@code n_bot = n - int(density * n) - n_top}
     * (if negative, {@code n_top} shrinks by it and {@code n_bot = 0}). Keeps ranks
     * {@code [n_bot, n - n_top)}; ties ranked by index.
     */
    static KeepMask magnitudeOutliers(float[] x, float[] base, double density, double gamma,
            RescaleMode rescale) {
        int n = x.length;
        if (density >= 1) {
            return KeepMask.ALL;
        }
        int target = (int) (density * n);
        int nTop = Math.max(0, (int) (gamma * n));
        int nBot = n - target - nTop;
        if (nBot < 0) {
            nTop += nBot;
            nBot = 0;
        }
        int lo = nBot;
        int hi = n - nTop;
        long[] bits = KeepMask.none(n);
        if (hi <= lo) {
            return new KeepMask(bits, 1.0, null);
        }
        MagnitudeSelection.Rank low = MagnitudeSelection.select(x, base, lo);
        MagnitudeSelection.Rank high = MagnitudeSelection.select(x, base, hi - 1);
        new StreamedOutlierCut.Scan(low.bits(), low.below(), high.bits(), high.below(), lo, hi)
                .bits(x, base, n, bits);
        return rescaled(x, base, bits, rescale, density);
    }

    /**
     * DARE: keeps each element with probability {@code density}, drawing
     * {@code u = KeyedRandom.uniform(key, elementOffset + i)} and keeping when {@code u < density}.
     */
    static KeepMask random(float[] x, float[] base, double density, RescaleMode rescale, long key,
            long elementOffset) {
        int n = x.length;
        if (density >= 1) {
            return KeepMask.ALL;
        }
        long[] bits = KeepMask.none(n);
        if (density <= 0) {
            return new KeepMask(bits, 1.0, null);
        }
        randomBits(density, key, elementOffset, n, bits);
        return rescaled(x, base, bits, rescale, density);
    }

    /** DARE's keep bits of elements {@code [elementOffset, elementOffset + n)} into {@code bits}. */
    static void randomBits(double density, long key, long elementOffset, int n, long[] bits) {
        for (int word = 0, words = (n + 63) >>> 6; word < words; word++) {
            long keep = 0;
            for (int i = word << 6, end = Math.min(n, i + 64); i < end; i++) {
                // Sign bit of u - density: 1 exactly when u < density (random, so no branch).
                double u = KeyedRandom.uniform(key, elementOffset + i);
                keep |= (Double.doubleToRawLongBits(u - density) >>> 63) << i;
            }
            bits[word] = keep;
        }
    }

    /**
     * DELLA MagPrune: per row (the last dimension; a 1-D tensor is one row) of length {@code c}, the
     * element of ascending magnitude rank {@code r} (0-based, ties by index) is kept with probability
     * {@code p = density - epsilon + 2 epsilon r / (c - 1)} ({@code p = density} when {@code c == 1}).
     */
    static KeepMask dellaMagprune(float[] x, float[] base, long[] shape, double density, double epsilon,
            RescaleMode rescale, long key) {
        int n = x.length;
        if (density >= 1) {
            return KeepMask.ALL;
        }
        long[] bits = KeepMask.none(n);
        if (density <= 0) {
            return new KeepMask(bits, 1.0, null);
        }
        int cols = dellaRow(shape);
        float[] inverse = rescale == RescaleMode.INVERSE_DENSITY ? new float[n] : null;
        dellaBits(x, base, n, new DellaRanks(cols, density, epsilon), key, 0, bits, inverse);
        if (inverse != null) {
            return new KeepMask(bits, 1.0, inverse);
        }
        return rescaled(x, base, bits, rescale, density);
    }

    /** The length of DELLA's rows: the last dimension, or the whole tensor when it has fewer than two. */
    static int dellaRow(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return Math.toIntExact(shape.length >= 2 ? shape[shape.length - 1] : n);
    }

    /**
     * DELLA's keep bits (and, where {@code inverse} is not null, each survivor's {@code 1 / p}) of
     * the whole rows {@code [0, n)}, the first at flat element {@code elementOffset} (a multiple of
     * the row length); {@code bits} starts cleared.
     */
    static void dellaBits(float[] x, float[] base, int n, DellaRanks ranks, long key, long elementOffset,
            long[] bits, float[] inverse) {
        int cols = ranks.cols();
        long[] order = ranks.rows.order;
        for (int from = 0; from < n; from += cols) {
            for (int c = 0; c < cols; c++) {
                long m = MagnitudeSelection.magnitudeBits(x[from + c], base[from + c]);
                order[c] = (m << 32) | c;
            }
            ranks.rows.sort(cols);
            for (int r = 0; r < cols; r++) {
                int i = from + (int) order[r];
                // As in randomBits: the sign bit of u - p, 1 exactly when u < p, with no branch to mispredict.
                long keep = Double.doubleToRawLongBits(KeyedRandom.uniform(key, elementOffset + i) - ranks.p[r]) >>> 63;
                bits[i >>> 6] |= keep << i;
                if (inverse != null) {
                    // 1 / p where kept, +0 (as the caller cleared it) where not.
                    inverse[i] = Float.intBitsToFloat(Float.floatToRawIntBits(ranks.inverse[r]) & (int) -keep);
                }
            }
        }
    }

    /**
     * What DELLA needs per row of length {@code cols}: the sort, and each rank's keep probability
     * and its inverse, computed once per tensor rather than once per element (the same doubles:
     * {@code p} depends on the rank alone).
     */
    static final class DellaRanks {
        final RowOrder rows;
        final double[] p;
        final float[] inverse;

        DellaRanks(int cols, double density, double epsilon) {
            rows = new RowOrder(cols);
            p = new double[cols];
            inverse = new float[cols];
            for (int r = 0; r < cols; r++) {
                p[r] = cols == 1 ? density : (density - epsilon) + 2 * epsilon * r / (cols - 1);
                inverse[r] = (float) (1.0 / p[r]);
            }
        }

        int cols() {
            return p.length;
        }
    }

    /**
     * A row's elements in ascending order of {@code (magnitude bits << 32) | column}, sorted by a
     * stable radix sort on the key's top 32 bits: the columns start in ascending order, so ties
     * stay in column order and the result is the comparison sort's, in time linear in the row.
     * Three digits of 11 bits (the magnitude has 31); one pass counts all three, then one scatter
     * pass per digit, skipping digits where every element has the same value.
     */
    static final class RowOrder {
        private static final int DIGIT_BITS = 11;
        private static final int RADIX = 1 << DIGIT_BITS;
        private static final int DIGITS = 3;

        final long[] order;
        private final long[] spare;
        /** The digits' histograms, then their bucket starts, one after the other. */
        private final int[] counts = new int[DIGITS * RADIX];

        RowOrder(int cols) {
            order = new long[cols];
            spare = new long[cols];
        }

        void sort(int n) {
            if (n == 0) {
                return;
            }
            Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) {
                int key = (int) (order[i] >>> 32);
                counts[key & (RADIX - 1)]++;
                counts[RADIX + ((key >>> DIGIT_BITS) & (RADIX - 1))]++;
                counts[2 * RADIX + (key >>> (2 * DIGIT_BITS))]++;
            }
            long[] src = order;
            long[] dst = spare;
            for (int d = 0; d < DIGITS; d++) {
                int base = d * RADIX;
                int shift = 32 + d * DIGIT_BITS;
                if (counts[base + digit(src[0], shift)] == n) {
                    continue;
                }
                for (int b = 0, sum = 0; b < RADIX; b++) {
                    int c = counts[base + b];
                    counts[base + b] = sum;
                    sum += c;
                }
                for (int i = 0; i < n; i++) {
                    long v = src[i];
                    dst[counts[base + digit(v, shift)]++] = v;
                }
                long[] t = src;
                src = dst;
                dst = t;
            }
            if (src != order) {
                System.arraycopy(src, 0, order, 0, n);
            }
        }

        private static int digit(long v, int shift) {
            return (int) (v >>> shift) & (RADIX - 1);
        }
    }

    private static KeepMask rescaled(float[] x, float[] base, long[] bits, RescaleMode rescale, double density) {
        if (rescale == null) {
            return new KeepMask(bits, 1.0, null);
        }
        if (rescale == RescaleMode.INVERSE_DENSITY) {
            return new KeepMask(bits, 1.0 / density, null);
        }
        L1Sums sums = new L1Sums();
        sums.add(x, base, bits, x.length);
        return new KeepMask(bits, sums.factor(), null);
    }

    /**
     * mergekit's L1 rescale: {@code |d|_1} and the kept part's, summed in flat index order over a
     * tensor's chunks in order (or the whole tensor at once).
     */
    static final class L1Sums {
        private double before;
        private double after;

        /** Adds elements {@code [0, n)}, the next {@code n} of the tensor, with their keep bits. */
        void add(float[] x, float[] base, long[] bits, int n) {
            double all = before;
            double kept = after;
            for (int i = 0; i < n; i++) {
                double a = Math.abs(x[i] - base[i]);
                all += a;
                // a where kept, +0.0 where not (adding +0.0 to a sum that starts at +0.0 changes nothing):
                // no branch on the random keep bits.
                long keep = (bits[i >>> 6] >>> i) & 1L;
                kept += Double.longBitsToDouble(Double.doubleToRawLongBits(a) & -keep);
            }
            before = all;
            after = kept;
        }

        /** The survivors' factor {@code |d|_1 / |kept|_1}, or 1 where either is below 1e-7. */
        double factor() {
            return before < L1_EPS || after < L1_EPS ? 1.0 : before / after;
        }
    }
}
