package dev.mergeval.merge.methods;

import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Consensus;
import dev.mergeval.merge.methods.Sparsifier.RescaleMode;

/**
 * Generalized task arithmetic with magnitude trimming (TIES) over a tensor streamed in chunks: the
 * passes of each fine-tune's {@link StreamedMagnitudeCut} (all fine-tunes in the same passes),
 * then, for mergekit's L1 rescale, a pass summing {@code |d|} and the kept {@code |d|}, then the
 * merge of each chunk by {@link TaskVectorCombiner} with the chunk's keep bits. The sums run in
 * flat index order, as {@link Sparsifier}'s over the whole tensor, so the factors, and with them
 * the floats, are the same as {@link GeneralizedTaskArithmeticMerge#merge}'s.
 */
final class StreamedTaskVectorMerge implements StreamedMerge {
    private static final double L1_EPS = 1e-7;

    private final int baseIndex;
    private final double[] inverseDensity;
    private final RescaleMode rescale;
    /** Per fine-tune: its cut, or null where it is kept whole or dropped whole. */
    private final StreamedMagnitudeCut[] cuts;
    /** Per fine-tune: true where every element is dropped ({@code int(density * n) <= 0}). */
    private final boolean[] none;
    private final double[] before;
    private final double[] after;
    private boolean sumsPending;
    /** Per fine-tune: its keep bits of the current chunk, reused from chunk to chunk. */
    private final long[][] keep;
    private final float[][] xs;
    private final KeepMask[] masks;
    private final TaskVectorCombiner combiner;

    /**
     * @param densities per fine-tune (the models other than the base, in order), as {@code w}
     * @param rescale null when rescale is off
     */
    StreamedTaskVectorMerge(Consensus consensus, int baseIndex, double[] w, double[] densities, RescaleMode rescale,
            boolean normalize, double lambda, long n) {
        this.baseIndex = baseIndex;
        double weightSum = 0;
        for (double wk : w) {
            weightSum += wk;
        }
        this.rescale = rescale;
        int m = w.length;
        this.cuts = new StreamedMagnitudeCut[m];
        this.none = new boolean[m];
        this.inverseDensity = new double[m];
        this.before = new double[m];
        this.after = new double[m];
        this.keep = new long[m][];
        this.xs = new float[m][];
        this.masks = new KeepMask[m];
        this.combiner = new TaskVectorCombiner(consensus, w.clone(), weightSum, normalize, lambda);
        for (int j = 0; j < m; j++) {
            inverseDensity[j] = 1.0 / densities[j];
            if (!(densities[j] >= 1)) {
                long k = (long) (densities[j] * n);
                none[j] = k <= 0;
                cuts[j] = none[j] ? null : new StreamedMagnitudeCut(n, k);
            }
        }
        this.sumsPending = rescale == RescaleMode.L1;
    }

    @Override
    public boolean needsPass() {
        return cutsPending() || (sumsPending && anyCut());
    }

    private boolean anyCut() {
        for (StreamedMagnitudeCut cut : cuts) {
            if (cut != null) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void observe(float[][] inputs, long offset, int n) {
        float[] base = inputs[baseIndex];
        boolean cutting = cutsPending();
        for (int k = 0, j = 0; k < inputs.length; k++) {
            if (k == baseIndex) {
                continue;
            }
            StreamedMagnitudeCut cut = cuts[j];
            if (cutting) {
                if (cut != null && cut.needsPass()) {
                    cut.observe(inputs[k], base, offset, n);
                }
            } else if (cut != null) {
                sum(j, inputs[k], base, cut.bits(inputs[k], base, offset, n, keep(j, n)), n);
            }
            j++;
        }
    }

    /** Fine-tune {@code j}'s keep-bit array, long enough for {@code n} elements. */
    private long[] keep(int j, int n) {
        int words = (n + 63) >>> 6;
        if (keep[j] == null || keep[j].length < words) {
            keep[j] = new long[words];
        }
        return keep[j];
    }

    /** The L1 norms of the task vector and of its kept part, in index order as {@link Sparsifier}'s. */
    private void sum(int j, float[] x, float[] base, long[] bits, int n) {
        double all = before[j];
        double kept = after[j];
        for (int i = 0; i < n; i++) {
            double a = Math.abs(x[i] - base[i]);
            all += a;
            if ((bits[i >>> 6] & (1L << i)) != 0) {
                kept += a;
            }
        }
        before[j] = all;
        after[j] = kept;
    }

    private boolean cutsPending() {
        for (StreamedMagnitudeCut cut : cuts) {
            if (cut != null && cut.needsPass()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void endPass() {
        if (cutsPending()) {
            for (StreamedMagnitudeCut cut : cuts) {
                if (cut != null && cut.needsPass()) {
                    cut.endPass();
                }
            }
        } else {
            sumsPending = false;
        }
    }

    @Override
    public void merge(float[][] inputs, long offset, int n, float[] out) {
        if (needsPass()) {
            throw new IllegalStateException("merge before the passes are done");
        }
        float[] base = inputs[baseIndex];
        if (cuts.length == 1 && cuts[0] != null && combiner.electsOne()) {
            combiner.electOne(inputs[baseIndex == 0 ? 1 : 0], base, n, cuts[0], offset, scale(0), out);
            return;
        }
        for (int k = 0, j = 0; k < inputs.length; k++) {
            if (k == baseIndex) {
                continue;
            }
            xs[j] = inputs[k];
            masks[j] = mask(j, xs[j], base, offset, n);
            j++;
        }
        combiner.combine(xs, base, masks, n, out);
    }

    /** Fine-tune {@code j}'s mask over the chunk, with the factor {@link Sparsifier} gives the whole tensor. */
    private KeepMask mask(int j, float[] x, float[] base, long offset, int n) {
        if (none[j]) {
            return new KeepMask(KeepMask.none(n), 1.0, null);
        }
        if (cuts[j] == null) {
            return KeepMask.ALL;
        }
        return new KeepMask(cuts[j].bits(x, base, offset, n, keep(j, n)), scale(j), null);
    }

    /** The factor {@link Sparsifier} gives the survivors of fine-tune {@code j}'s cut. */
    private double scale(int j) {
        if (rescale == RescaleMode.INVERSE_DENSITY) {
            return inverseDensity[j];
        }
        if (rescale != RescaleMode.L1 || before[j] < L1_EPS || after[j] < L1_EPS) {
            return 1.0;
        }
        return before[j] / after[j];
    }
}
