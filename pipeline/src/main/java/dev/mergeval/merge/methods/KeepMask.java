package dev.mergeval.merge.methods;

/**
 * The result of sparsifying one task vector: which elements survive ({@link #bits()}, null for
 * all), a factor for every survivor ({@code scale}), and optionally a per-element factor
 * ({@code elementScale}, DELLA's {@code 1 / p_i}). A TIES mask (the {@code topK} largest
 * magnitudes, factor 1) finds its cut and builds its bits only when a caller asks for them, so a
 * pass that finds and tests the cut itself (TIES on one fine-tune) never builds them.
 */
final class KeepMask {
    static final KeepMask ALL = new KeepMask(null, 1.0, null);

    private long[] bits;
    final double scale;
    final float[] elementScale;
    /** For a TIES mask, how many of the largest magnitudes of {@code x - base} it keeps; 0 otherwise. */
    final int topK;
    private final float[] x;
    private final float[] base;

    KeepMask(long[] bits, double scale, float[] elementScale) {
        this.bits = bits;
        this.scale = scale;
        this.elementScale = elementScale;
        this.topK = 0;
        this.x = null;
        this.base = null;
    }

    /** The {@code topK} largest magnitudes of {@code x - base} ({@code 0 < topK <= n}), factor 1. */
    KeepMask(float[] x, float[] base, int topK) {
        this.scale = 1.0;
        this.elementScale = null;
        this.topK = topK;
        this.x = x;
        this.base = base;
    }

    static long[] none(int n) {
        return new long[(n + 63) >>> 6];
    }

    /** Bit {@code i} set when element {@code i} survives; null when all do. */
    long[] bits() {
        if (bits == null && topK > 0) {
            bits = Sparsifier.MagnitudeCut.topKBits(x, base, topK);
        }
        return bits;
    }

    boolean kept(int i) {
        long[] b = bits();
        return b == null || (b[i >>> 6] & (1L << i)) != 0;
    }

    /** The factor on element {@code i} of the task vector (0 when dropped). */
    double factor(int i) {
        if (!kept(i)) {
            return 0.0;
        }
        return elementScale == null ? scale : scale * elementScale[i];
    }
}
