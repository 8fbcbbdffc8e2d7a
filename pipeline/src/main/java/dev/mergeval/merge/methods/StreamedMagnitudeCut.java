package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import java.util.Arrays;

/**
 * {@link Sparsifier.MagnitudeCut#topK} over a tensor that arrives in chunks, pass by pass: the cut
 * keeping the {@code k} largest of {@code |x_i - base_i|} among {@code n}, ties at the threshold
 * by lower flat index, so the kept elements are exactly the whole-tensor cut's.
 *
 * <p>Pass one histograms the magnitudes' high 16 bits and finds the bucket of ascending rank
 * {@code n - k} ({@link MagnitudeSelection}'s first pass). Pass two collects that bucket's members
 * (magnitude and index, in index order) and resolves the threshold and the last kept tie among
 * them. A bucket of more than {@value #MAX_MEMBERS} members (a degenerate spread) is not held:
 * pass two histograms its low 16 bits instead, and a third pass, needed only when some but not all
 * ties at the threshold are kept, counts the ties in index order. Memory: 512 KiB of counters and
 * at most {@value #MAX_MEMBERS} members, whatever {@code n}.
 */
final class StreamedMagnitudeCut {
    static final int MAX_MEMBERS = 1 << 20;
    private static final int BUCKETS = 1 << 16;

    private enum Phase { HIGH, MEMBERS, LOW, TIES, DONE }

    private final long n;
    private final long k;
    private Phase phase = Phase.HIGH;
    private long[] hist = new long[BUCKETS];
    private int high;
    private long below;
    private int[] memberBits;
    private long[] memberIndex;
    private int found;
    private int threshold;
    private long equalAllowed;
    private long tiesSeen;
    private long tieEnd = -1;

    /** The cut keeping the {@code k} largest of {@code n} magnitudes, {@code 0 < k <= n}. */
    StreamedMagnitudeCut(long n, long k) {
        if (k <= 0 || k > n) {
            throw new IllegalArgumentException("keep " + k + " of " + n);
        }
        this.n = n;
        this.k = k;
    }

    boolean needsPass() {
        return phase != Phase.DONE;
    }

    /** Elements {@code [offset, offset + count)} of the current pass. */
    void observe(float[] x, float[] base, long offset, int count) {
        switch (phase) {
            case HIGH -> {
                for (int i = 0; i < count; i++) {
                    hist[MagnitudeSelection.magnitudeBits(x[i], base[i]) >>> 16]++;
                }
            }
            case MEMBERS -> {
                for (int i = 0; i < count; i++) {
                    int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                    if ((m >>> 16) == high) {
                        memberBits[found] = m;
                        memberIndex[found++] = offset + i;
                    }
                }
            }
            case LOW -> {
                for (int i = 0; i < count; i++) {
                    int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
                    if ((m >>> 16) == high) {
                        hist[m & 0xFFFF]++;
                    }
                }
            }
            case TIES -> {
                for (int i = 0; i < count && tieEnd < 0; i++) {
                    if (MagnitudeSelection.magnitudeBits(x[i], base[i]) == threshold && ++tiesSeen == equalAllowed) {
                        tieEnd = offset + i + 1;
                    }
                }
            }
            default -> throw new IllegalStateException("the cut is already resolved");
        }
    }

    void endPass() {
        switch (phase) {
            case HIGH -> {
                long rank = n - k;
                while (below + hist[high] <= rank) {
                    below += hist[high++];
                }
                long count = hist[high];
                if (count <= MAX_MEMBERS) {
                    memberBits = new int[(int) count];
                    memberIndex = new long[(int) count];
                    hist = null;
                    phase = Phase.MEMBERS;
                } else {
                    Arrays.fill(hist, 0);
                    phase = Phase.LOW;
                }
            }
            case MEMBERS -> {
                if (found != memberBits.length) {
                    throw new IllegalStateException("pass two met " + found + " members, pass one counted "
                            + memberBits.length);
                }
                long[] low = new long[BUCKETS];
                for (int m : memberBits) {
                    low[m & 0xFFFF]++;
                }
                if (resolve(low)) {
                    for (int j = 0; j < found && tieEnd < 0; j++) {
                        if (memberBits[j] == threshold && ++tiesSeen == equalAllowed) {
                            tieEnd = memberIndex[j] + 1;
                        }
                    }
                }
                memberBits = null;
                memberIndex = null;
                phase = Phase.DONE;
            }
            case LOW -> {
                boolean partial = resolve(hist);
                hist = null;
                phase = partial ? Phase.TIES : Phase.DONE;
            }
            case TIES -> phase = Phase.DONE;
            default -> throw new IllegalStateException("the cut is already resolved");
        }
        if (phase == Phase.DONE && tieEnd < 0) {
            throw new IllegalStateException("the cut's last tie was not met: the passes did not cover the tensor");
        }
    }

    /**
     * Sets the threshold (rank {@code n - k}) from the low-bit histogram of its bucket; true when
     * only some of the ties at it are kept and the last kept one is still to be found.
     */
    private boolean resolve(long[] low) {
        long rank = n - k;
        long lowBelow = below;
        int bits = 0;
        while (lowBelow + low[bits] <= rank) {
            lowBelow += low[bits++];
        }
        threshold = (high << 16) | bits;
        long equal = low[bits];
        equalAllowed = k - (n - lowBelow - equal);
        if (equalAllowed == equal) {
            tieEnd = n;
            return false;
        }
        return true;
    }

    /** 1 when element {@code index}, of magnitude bits {@code m}, is kept, else 0; branch-free. */
    long keeps(int m, long index) {
        long above = ((long) threshold - m) >>> 63;
        // Magnitude bits are non-negative, so m ^ threshold - 1 is negative exactly when they are equal.
        long tie = (((long) (m ^ threshold) - 1) >>> 63) & ((index - tieEnd) >>> 63);
        return above | tie;
    }

    /** The keep bits of chunk {@code [offset, offset + count)}, bit {@code i} for element {@code offset + i}. */
    long[] bits(float[] x, float[] base, long offset, int count) {
        long[] bits = KeepMask.none(count);
        for (int word = 0; word < bits.length; word++) {
            long keep = 0;
            for (int i = word << 6, end = Math.min(count, i + 64); i < end; i++) {
                keep |= keeps(MagnitudeSelection.magnitudeBits(x[i], base[i]), offset + i) << i;
            }
            bits[word] = keep;
        }
        return bits;
    }
}
