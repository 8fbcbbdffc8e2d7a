package dev.mergeval.merge.methods;

import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Consensus;
import dev.mergeval.merge.methods.Sparsifier.RescaleMode;
import java.util.Arrays;

/**
 * Generalized task arithmetic with magnitude trimming (TIES, breadcrumbs) or random drops (DARE,
 * DELLA) over a tensor streamed in chunks: the passes of each fine-tune's {@link Selection} (for
 * TIES its {@link StreamedMagnitudeCut}, all fine-tunes in the same passes; the draws need none), then,
 * for mergekit's L1 rescale, a pass summing {@code |d|} and the kept {@code |d|}, then the merge of
 * each chunk by {@link TaskVectorCombiner} with the chunk's keep bits. The sums run in flat index
 * order, as {@link Sparsifier}'s over the whole tensor, so the factors, and with them the floats,
 * are the same as {@link GeneralizedTaskArithmeticMerge#merge}'s.
 */
final class StreamedTaskVectorMerge implements StreamedMerge {
    /** Which elements of one fine-tune's task vector survive, decided over the tensor's chunks. */
    interface Selection {
        /** True while another pass over the chunks is needed before {@link #bits}. */
        boolean needsPass();

        /** Elements {@code [offset, offset + count)} of the current pass. */
        void observe(float[] x, float[] base, long offset, int count);

        /** Ends the current pass. */
        void endPass();

        /**
         * The keep bits of chunk {@code [offset, offset + count)} into {@code bits} (returned), bit
         * {@code i} for element {@code offset + i}; the chunks of a scan come in ascending order
         * from offset 0.
         */
        long[] bits(float[] x, float[] base, long offset, int count, long[] bits);

        /** Each survivor's own factor over the chunk of the last {@link #bits}, or null where there is none. */
        default float[] elementScale() {
            return null;
        }

        /** The length of the rows the chunks must hold whole (see {@link StreamedMerge#rowLength}). */
        default int rowLength() {
            return 1;
        }
    }

    /** A selection by keyed draws (DARE, DELLA): each chunk's bits come from the chunk alone, so no pass. */
    interface Draws extends Selection {
        @Override
        default boolean needsPass() {
            return false;
        }

        @Override
        default void observe(float[] x, float[] base, long offset, int count) {
            throw new IllegalStateException("draws need no pass");
        }

        @Override
        default void endPass() {
            throw new IllegalStateException("draws need no pass");
        }
    }

    /**
     * DELLA's MagPrune ({@link Sparsifier#dellaMagprune}) over chunks of whole rows: each element
     * kept with a probability set by its magnitude's rank in its row; with {@code inverse_density},
     * each survivor carries its own {@code 1 / p}.
     */
    static final class DellaDrop implements Draws {
        private final long key;
        private final boolean inverse;
        private final Sparsifier.DellaRanks ranks;
        private float[] scales;

        DellaDrop(int cols, double density, double epsilon, long key, boolean inverse) {
            this.key = key;
            this.inverse = inverse;
            this.ranks = new Sparsifier.DellaRanks(cols, density, epsilon);
        }

        @Override
        public long[] bits(float[] x, float[] base, long offset, int count, long[] bits) {
            int cols = ranks.cols();
            if (offset % cols != 0 || (count % cols != 0 && count != 0)) {
                throw new IllegalStateException("chunk [" + offset + ", " + (offset + count) + ") is not whole rows of "
                        + cols);
            }
            Arrays.fill(bits, 0, (count + 63) >>> 6, 0L);
            if (inverse) {
                if (scales == null || scales.length < count) {
                    scales = new float[count];
                }
                Arrays.fill(scales, 0, count, 0f);
            }
            Sparsifier.dellaBits(x, base, count, ranks, key, offset, bits, inverse ? scales : null);
            return bits;
        }

        @Override
        public float[] elementScale() {
            return inverse ? scales : null;
        }

        @Override
        public int rowLength() {
            return ranks.cols();
        }
    }

    /**
     * The selection of a fine-tune whose every element is dropped (draws below density 0), marked
     * by identity: its mask's factor is 1, whatever the rescale, as {@link Sparsifier} gives it.
     */
    static final Selection DROP_ALL = new RandomDrop(0, 0);

    /** DARE's draws ({@link Sparsifier#random}): each element kept when its counter-keyed uniform is below the density. */
    record RandomDrop(double density, long key) implements Draws {
        @Override
        public long[] bits(float[] x, float[] base, long offset, int count, long[] bits) {
            Sparsifier.randomBits(density, key, offset, count, bits);
            return bits;
        }
    }

    private final int baseIndex;
    private final double[] inverseDensity;
    private final RescaleMode rescale;
    /** Per fine-tune: its selection, or null where it is kept whole or dropped whole. */
    private final Selection[] cuts;
    /** Per fine-tune: true where every element is dropped. */
    private final boolean[] none;
    /** Per fine-tune: its L1 sums, for mergekit's L1 rescale. */
    private final Sparsifier.L1Sums[] sums;
    private boolean sumsPending;
    /** Per fine-tune: its keep bits of the current chunk, reused from chunk to chunk. */
    private final long[][] keep;
    private final float[][] xs;
    private final KeepMask[] masks;
    private final TaskVectorCombiner combiner;

    /**
     * @param densities per fine-tune (the models other than the base, in order), as {@code w}
     * @param selections per fine-tune: null where it is kept whole, {@link #DROP_ALL} where it is
     *     dropped whole
     * @param rescale null when rescale is off
     */
    StreamedTaskVectorMerge(Consensus consensus, int baseIndex, double[] w, double[] densities,
            Selection[] selections, RescaleMode rescale, boolean normalize, double lambda) {
        this.baseIndex = baseIndex;
        double weightSum = 0;
        for (double wk : w) {
            weightSum += wk;
        }
        this.rescale = rescale;
        int m = w.length;
        this.cuts = new Selection[m];
        this.none = new boolean[m];
        this.inverseDensity = new double[m];
        this.sums = new Sparsifier.L1Sums[m];
        this.keep = new long[m][];
        this.xs = new float[m][];
        this.masks = new KeepMask[m];
        this.combiner = new TaskVectorCombiner(consensus, w.clone(), weightSum, normalize, lambda);
        for (int j = 0; j < m; j++) {
            inverseDensity[j] = 1.0 / densities[j];
            sums[j] = new Sparsifier.L1Sums();
            none[j] = selections[j] == DROP_ALL;
            cuts[j] = none[j] ? null : selections[j];
        }
        this.sumsPending = rescale == RescaleMode.L1;
    }

    @Override
    public int rowLength() {
        int row = 1;
        for (Selection cut : cuts) {
            if (cut != null) {
                row = Math.max(row, cut.rowLength());
            }
        }
        return row;
    }

    @Override
    public boolean needsPass() {
        return cutsPending() || (sumsPending && anyCut());
    }

    private boolean anyCut() {
        for (Selection cut : cuts) {
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
            Selection cut = cuts[j];
            if (cutting) {
                if (cut != null && cut.needsPass()) {
                    cut.observe(inputs[k], base, offset, n);
                }
            } else if (cut != null) {
                sums[j].add(inputs[k], base, cut.bits(inputs[k], base, offset, n, keep(j, n)), n);
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

    private boolean cutsPending() {
        for (Selection cut : cuts) {
            if (cut != null && cut.needsPass()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void endPass() {
        if (cutsPending()) {
            for (Selection cut : cuts) {
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
        if (cuts.length == 1 && cuts[0] instanceof StreamedMagnitudeCut cut && combiner.electsOne()) {
            combiner.electOne(inputs[baseIndex == 0 ? 1 : 0], base, n, cut, offset, scale(0), out);
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
        long[] bits = cuts[j].bits(x, base, offset, n, keep(j, n));
        float[] own = cuts[j].elementScale();
        return own != null ? new KeepMask(bits, 1.0, own) : new KeepMask(bits, scale(j), null);
    }

    /** The factor {@link Sparsifier} gives the survivors of fine-tune {@code j}'s cut. */
    private double scale(int j) {
        if (rescale == RescaleMode.INVERSE_DENSITY) {
            return inverseDensity[j];
        }
        return rescale == RescaleMode.L1 ? sums[j].factor() : 1.0;
    }
}
