package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Consensus;
import java.util.Arrays;

/**
 * The combination step of generalized task arithmetic, given sparsified task vectors (as masks on
 * {@code x_k - base}): {@code e_k = w_k s_k}; without consensus {@code D = sum_k e_k},
 * {@code S = sum_k w_k} ({@code 1} if {@code |S| < 1e-8}); with sign consensus only entries agreeing
 * with the elected sign count, {@code S = sum_k m_k w_k} ({@code 1} if zero). Works block by block:
 * each pass is a plain loop over a block, so the JIT can vectorise it, and scratch stays
 * O(block * models).
 */
final class TaskVectorCombiner {
    static final int BLOCK = 1024;
    private final Consensus consensus;
    private final double[] w;
    /** The inputs being combined, over their first {@code n} elements: set per tensor or chunk. */
    private float[][] xs;
    private float[] base;
    private KeepMask[] masks;
    private int n;
    private final double plainDivisor;
    private final boolean normalize;
    private final double lambda;
    /**
     * The block path's arrays, made on its first block: TIES on one fine-tune ({@link #electOne})
     * never uses them, and a streamed merge makes a combiner per tensor, so 32 KB each made for
     * nothing was most of a merge's garbage where the tensors are many and small.
     */
    private double[][] e;
    private double[] mixed;
    private double[] divisor;
    /** The divisor summed in float32, as mergekit sums it, for its test of zero. */
    private float[] singleDivisor;
    /** Whether the float32 sums are mergekit's ({@link Rules#normalFloats}). */
    private final boolean singleSums;
    private double[] elected;

    TaskVectorCombiner(Consensus consensus, float[][] xs, float[] base, double[] w, KeepMask[] masks,
            double weightSum, boolean normalize, double lambda) {
        this(consensus, w, weightSum, normalize, lambda);
        this.xs = xs;
        this.base = base;
        this.masks = masks;
        this.n = base.length;
    }

    /** A combiner for the weights {@code w} whose inputs come with each {@link #combine(float[][], float[], KeepMask[], int, float[])}. */
    TaskVectorCombiner(Consensus consensus, double[] w, double weightSum, boolean normalize, double lambda) {
        this.consensus = consensus;
        this.w = w;
        this.singleSums = Rules.normalFloats(w);
        this.plainDivisor = Math.abs(weightSum) < 1e-8 ? 1.0 : weightSum;
        this.normalize = normalize;
        this.lambda = lambda;
    }

    /** The merged tensor (or chunk): {@code b + lambda * (normalize ? D / S : D)} per element. */
    float[] combine() {
        return combine(new float[n]);
    }

    /**
     * {@link #combine()} of the first {@code n} elements of other inputs ({@code masks} built for
     * them) into {@code out}, reusing this combiner's block arrays: a chunk after chunk.
     */
    float[] combine(float[][] xs, float[] base, KeepMask[] masks, int n, float[] out) {
        this.xs = xs;
        this.base = base;
        this.masks = masks;
        this.n = n;
        return combine(out);
    }

    /** {@link #combine()} into {@code out[0..n)}. */
    float[] combine(float[] out) {
        if (electsOne() && masks[0].elementScale == null) {
            electOne(out);
            return out;
        }
        return combineByBlocks(out);
    }

    /** The general path of {@link #combine()} into {@code out}; package-private to pin the fast path to it. */
    float[] combineByBlocks(float[] out) {
        if (e == null) {
            e = new double[w.length][BLOCK];
            mixed = new double[BLOCK];
            divisor = new double[BLOCK];
            singleDivisor = new float[BLOCK];
            elected = new double[BLOCK];
        }
        for (int from = 0; from < n; from += BLOCK) {
            block(from, Math.min(n, from + BLOCK), out);
        }
        return out;
    }

    private void block(int from, int to, float[] out) {
        int len = to - from;
        for (int k = 0; k < xs.length; k++) {
            weightedDeltas(k, from, len, e[k]);
        }
        if (consensus == null) {
            Arrays.fill(mixed, 0, len, 0.0);
            for (double[] ek : e) {
                for (int j = 0; j < len; j++) {
                    mixed[j] += ek[j];
                }
            }
            Arrays.fill(divisor, 0, len, plainDivisor);
        } else {
            elect(len);
        }
        for (int j = 0; j < len; j++) {
            double delta = normalize ? mixed[j] / divisor[j] : mixed[j];
            out[from + j] = (float) (base[from + j] + lambda * delta);
        }
    }

    /** e_k = w_k * sparsified(x_k - base) over one block; the delta is formed in float. */
    private void weightedDeltas(int k, int from, int len, double[] ek) {
        float[] x = xs[k];
        double wk = w[k];
        KeepMask mask = masks[k];
        long[] bits = mask.bits();
        if (bits == null) {
            for (int j = 0; j < len; j++) {
                ek[j] = wk * (x[from + j] - base[from + j]);
            }
            return;
        }
        double scaled = wk * mask.scale;
        if (mask.elementScale == null) {
            for (int j = 0; j < len; j++) {
                int i = from + j;
                // Branch-free keep bit: DARE masks are random, so a branch would mispredict.
                ek[j] = scaled * (x[i] - base[i]) * ((bits[i >>> 6] >>> i) & 1L);
            }
            return;
        }
        for (int j = 0; j < len; j++) {
            ek[j] = wk * ((x[from + j] - base[from + j]) * mask.factor(from + j));
        }
    }

    /**
     * One task vector with sign consensus (TIES on one fine-tune) and a finite, non-zero weight,
     * fused into one pass per element with no block arrays. The elected sign is then that of
     * {@code e} itself, so the block path ({@link #weightedDeltas}, {@link #elect}) reduces to
     * {@code D = e + 0.0} with {@code S = w} where {@code e != 0} (or NaN) and {@code S = 1} where
     * {@code e} is a zero of either sign, and {@code D / S} to {@code e / w + 0.0}: a non-zero
     * {@code e = w d} divided by {@code w} does not underflow to zero, and a zero gives +0.0 either
     * way. So the floats are identical, without the election's sign masks. A vector kept whole gets
     * {@code e = (w * 1) d * 1}, which equals {@code w d} bit for bit.
     */
    private void electOne(float[] out) {
        KeepMask mask = masks[0];
        if (mask.topK > 0) {
            electOneTopK(out, mask.topK);
            return;
        }
        float[] x = xs[0];
        long[] keep = mask.bits();
        double scaled = w[0] * mask.scale;
        for (int i = 0; i < n; i++) {
            long word = keep == null ? -1L : keep[i >>> 6];
            out[i] = one(x[i], base[i], scaled, (word >>> i) & 1L);
        }
    }

    /**
     * {@link #electOne(float[])} for a TIES mask, which it never builds: the selection's first pass
     * (a histogram of the magnitudes' high 16 bits) gives the bucket of the cut; one pass then
     * merges every element as if that whole bucket were dropped and collects the bucket's members
     * (few: a 16-bit bucket spans 1/128 of an octave); the cut is resolved among them, and only they
     * are merged again. A bucket holding more than an eighth of the elements (a degenerate spread,
     * such as a tensor the fine-tune left unchanged) is resolved first, by a second pass.
     */
    private void electOneTopK(float[] out, int k) {
        float[] x = xs[0];
        double scaled = w[0] * masks[0].scale;
        MagnitudeSelection.Bucket bucket = MagnitudeSelection.bucket(x, base, n - k);
        if (bucket.count() > n / 8) {
            Sparsifier.MagnitudeCut cut = Sparsifier.MagnitudeCut.topK(x, base, k);
            for (int i = 0; i < n; i++) {
                out[i] = one(x[i], base[i], scaled, cut.keeps(MagnitudeSelection.magnitudeBits(x[i], base[i]), i));
            }
            return;
        }
        int high = bucket.high();
        int[] members = new int[bucket.count()];
        int found = 0;
        for (int i = 0; i < n; i++) {
            int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
            out[i] = one(x[i], base[i], scaled, ((long) high - (m >>> 16)) >>> 63);
            if ((m >>> 16) == high) {
                members[found++] = i;
            }
        }
        Sparsifier.MagnitudeCut cut = Sparsifier.MagnitudeCut.among(x, base, k, bucket, members);
        for (int i : members) {
            out[i] = one(x[i], base[i], scaled, cut.keeps(MagnitudeSelection.magnitudeBits(x[i], base[i]), i));
        }
    }

    /**
     * True when {@link #electOne} merges one task vector without per-element factors: sign
     * consensus, one fine-tune, a finite, non-zero weight.
     */
    boolean electsOne() {
        return consensus == Consensus.SUM && w.length == 1 && w[0] != 0 && Double.isFinite(w[0]);
    }

    /**
     * {@link #electOne} where {@link #electsOne} holds, for chunk {@code [offset, offset + n)} of
     * a tensor streamed through {@code cut} with factor {@code scale}: each element's keep is
     * decided as it is merged, with no keep bits built.
     */
    void electOne(float[] x, float[] base, int n, StreamedMagnitudeCut cut, long offset, double scale, float[] out) {
        double scaled = w[0] * scale;
        int threshold = cut.threshold();
        long allowed = cut.equalAllowed();
        long seen = cut.startChunk(offset, n);
        for (int i = 0; i < n; i++) {
            int m = MagnitudeSelection.magnitudeBits(x[i], base[i]);
            long tie = StreamedMagnitudeCut.tie(m, threshold);
            seen += tie;
            out[i] = one(x[i], base[i], scaled, StreamedMagnitudeCut.keeps(m, threshold, tie, seen, allowed));
        }
        cut.endChunk(seen);
    }

    /** One element of {@link #electOne}: {@code e = (w s) (x - b) keep}, then {@code b + lambda (e / w + 0.0)}. */
    private float one(float x, float b, double scaled, long keep) {
        double e = scaled * (x - b) * keep;
        double delta = (normalize ? e / w[0] : e) + 0.0;
        return (float) (b + lambda * delta);
    }

    /**
     * Sign consensus: the elected sign is that of the sum of {@code e_k} (or of the count of
     * signs), +1 on a tie; {@code e_k} agrees when {@code e_k * sign > 0}, so zeros never do.
     */
    private void elect(int len) {
        Arrays.fill(elected, 0, len, 0.0);
        boolean bySum = consensus == Consensus.SUM;
        for (double[] ek : e) {
            if (bySum) {
                for (int j = 0; j < len; j++) {
                    elected[j] += ek[j];
                }
            } else {
                for (int j = 0; j < len; j++) {
                    elected[j] += Math.signum(ek[j]);
                }
            }
        }
        // Branch-free from here on (the signs are data-dependent, so branches mispredict):
        // vote + 0.0 turns -0.0 into +0.0, so a zero vote elects +1 as in mergekit.
        for (int j = 0; j < len; j++) {
            elected[j] = Math.copySign(1.0, elected[j] + 0.0);
        }
        Arrays.fill(mixed, 0, len, 0.0);
        Arrays.fill(divisor, 0, len, 0.0);
        Arrays.fill(singleDivisor, 0, len, 0f);
        for (int k = 0; k < e.length; k++) {
            double[] ek = e[k];
            double wk = w[k];
            float single = (float) wk;
            for (int j = 0; j < len; j++) {
                // q = |e| when e agrees with the elected sign (e * sign > 0), else +0.0.
                double q = Math.max(ek[j] * elected[j], 0.0);
                mixed[j] += q * elected[j];
                // (bits(q) + Long.MAX_VALUE) >>> 63 is 1 for q > 0 and 0 for q == +0.0.
                long agrees = (Double.doubleToRawLongBits(q) + Long.MAX_VALUE) >>> 63;
                divisor[j] += wk * agrees;
                singleDivisor[j] += single * agrees;
            }
        }
        for (int j = 0; j < len; j++) {
            // mergekit sums the weights in float32 and divides by 1 where that sum is 0, so weights
            // that cancel there (0.1 + 0.2 - 0.3) but not in double divide by 1 here too, where
            // every weight is a normal float (a weight that float32 rounds to 0 or infinity is used
            // in double alone, deviation 1). Not "sum == 0 ? 1 : sum": C2 compiles that to a
            // branch, which mispredicts where many elements are dropped (the sum is then zero at
            // random). |F| 2^149 is at least 1 for any float F != 0, so that min is 1 or 0, and the
            // divisor S or 1; then |S| 2^1200 is at least 2^126 for any double S != 0, so
            // S + (1 - min) is S or 1 (S is never -0.0). Plain double arithmetic, so it vectorizes.
            double nonzero = singleSums ? Math.min(Math.abs((double) singleDivisor[j]) * 0x1p149, 1.0) : 1.0;
            double s = nonzero * divisor[j] + (1.0 - nonzero);
            divisor[j] = s + (1.0 - Math.min(Math.abs(s) * 0x1p600 * 0x1p600, 1.0));
        }
    }
}
