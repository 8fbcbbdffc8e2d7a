package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;

/**
 * {@link Sparsifier#magnitudeOutliers} (breadcrumbs) over a tensor that arrives in chunks: the
 * magnitudes of ascending rank {@code [lo, hi)} are kept, ties ranked by flat index. The two
 * boundary values, of ranks {@code lo} and {@code hi - 1}, are each found by a
 * {@link StreamedMagnitudeCut} (both in the same passes); then the whole-tensor selection's own
 * {@link Scan} runs over the chunks, so the kept elements are exactly its.
 */
final class StreamedOutlierCut implements StreamedTaskVectorMerge.Selection {
    private final long lo;
    private final long hi;
    private final StreamedMagnitudeCut floor;
    private final StreamedMagnitudeCut ceiling;
    private Scan scan;
    private long nextOffset;

    /** Keeps ascending ranks {@code [lo, hi)} of {@code n} magnitudes, {@code 0 <= lo < hi <= n}. */
    StreamedOutlierCut(long n, long lo, long hi) {
        if (lo < 0 || hi <= lo || hi > n) {
            throw new IllegalArgumentException("ranks [" + lo + ", " + hi + ") of " + n);
        }
        this.lo = lo;
        this.hi = hi;
        // The cut keeping the k largest has its threshold at ascending rank n - k.
        this.floor = new StreamedMagnitudeCut(n, n - lo);
        this.ceiling = new StreamedMagnitudeCut(n, n - (hi - 1));
    }

    @Override
    public boolean needsPass() {
        return floor.needsPass() || ceiling.needsPass();
    }

    @Override
    public void observe(float[] x, float[] base, long offset, int count) {
        if (floor.needsPass()) {
            floor.observe(x, base, offset, count);
        }
        if (ceiling.needsPass()) {
            ceiling.observe(x, base, offset, count);
        }
    }

    @Override
    public void endPass() {
        if (floor.needsPass()) {
            floor.endPass();
        }
        if (ceiling.needsPass()) {
            ceiling.endPass();
        }
    }

    @Override
    public long[] bits(float[] x, float[] base, long offset, int count, long[] bits) {
        if (needsPass()) {
            throw new IllegalStateException("the cuts are not resolved yet");
        }
        if (offset == 0) {
            scan = new Scan(floor.threshold(), floor.belowThreshold(), ceiling.threshold(), ceiling.belowThreshold(),
                    lo, hi);
        } else if (offset != nextOffset) {
            throw new IllegalStateException("chunk at " + offset + ", expected " + nextOffset);
        }
        nextOffset = offset + count;
        return scan.bits(x, base, count, bits);
    }

    /**
     * Breadcrumbs' keep test over elements in index order: kept when strictly between the boundary
     * values {@code low} (rank {@code lo}) and {@code high} (rank {@code hi - 1}), or equal to one and
     * ranked inside {@code [lo, hi)} among its ties by index, which are counted as the scan goes.
     */
    static final class Scan {
        private final int low;
        private final long belowLow;
        private final int high;
        private final long belowHigh;
        private final long lo;
        private final long hi;
        private long seenLow;
        private long seenHigh;

        /** {@code belowLow}, {@code belowHigh}: how many magnitudes lie below each boundary value. */
        Scan(int low, long belowLow, int high, long belowHigh, long lo, long hi) {
            this.low = low;
            this.belowLow = belowLow;
            this.high = high;
            this.belowHigh = belowHigh;
            this.lo = lo;
            this.hi = hi;
        }

        /** The keep bits of the scan's next {@code count} elements into {@code bits} (returned). */
        long[] bits(float[] x, float[] base, int count, long[] bits) {
            for (int word = 0, words = (count + 63) >>> 6; word < words; word++) {
                long keep = 0;
                for (int i = word << 6, end = Math.min(count, i + 64); i < end; i++) {
                    int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                    // low < m < high, branch-free; the boundary values (rare) go by rank.
                    keep |= ((((long) low - m) & ((long) m - high)) >>> 63) << i;
                    if (m == low || m == high) {
                        boolean aboveFloor = m > low || belowLow + seenLow >= lo;
                        boolean belowCeiling = m < high || belowHigh + seenHigh < hi;
                        seenLow += m == low ? 1 : 0;
                        seenHigh += m == high ? 1 : 0;
                        if (aboveFloor && belowCeiling) {
                            keep |= 1L << i;
                        }
                    }
                }
                bits[word] = keep;
            }
            return bits;
        }
    }
}
