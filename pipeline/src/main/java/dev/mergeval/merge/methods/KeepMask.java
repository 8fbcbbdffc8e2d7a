package dev.mergeval.merge.methods;

/**
 * The result of sparsifying one task vector: which elements survive ({@link #bits()}, null for
 * all), a factor for every survivor ({@code scale}), and optionally a per-element factor
 * ({@code elementScale}, DELLA's {@code 1 / p_i}). A mask from a magnitude cut keeps the cut and
 * builds its bits only when a caller asks for them, so a pass that can test the cut per element
 * (TIES on one fine-tune) never builds them.
 */
final class KeepMask {
    static final KeepMask ALL = new KeepMask(null, 1.0, null);

    private long[] bits;
    final double scale;
    final float[] elementScale;
    /** The cut the bits follow, or null; with {@link #x} and {@link #base}, what they are built from. */
    final Sparsifier.MagnitudeCut cut;
    private final float[] x;
    private final float[] base;

    KeepMask(long[] bits, double scale, float[] elementScale) {
        this.bits = bits;
        this.scale = scale;
        this.elementScale = elementScale;
        this.cut = null;
        this.x = null;
        this.base = null;
    }

    /** The elements of {@code x - base} that {@code cut} keeps, factor 1. */
    KeepMask(Sparsifier.MagnitudeCut cut, float[] x, float[] base) {
        this.scale = 1.0;
        this.elementScale = null;
        this.cut = cut;
        this.x = x;
        this.base = base;
    }

    static long[] none(int n) {
        return new long[(n + 63) >>> 6];
    }

    static void set(long[] bits, int i) {
        bits[i >>> 6] |= 1L << i;
    }

    /** Bit {@code i} set when element {@code i} survives; null when all do. */
    long[] bits() {
        if (bits == null && cut != null) {
            bits = cut.bits(x, base);
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
