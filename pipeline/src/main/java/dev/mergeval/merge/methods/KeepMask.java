package dev.mergeval.merge.methods;

/**
 * The result of sparsifying one task vector: which elements survive ({@code bits}, null for all),
 * a factor for every survivor ({@code scale}), and optionally a per-element factor
 * ({@code elementScale}, DELLA's {@code 1 / p_i}).
 */
final class KeepMask {
    static final KeepMask ALL = new KeepMask(null, 1.0, null);

    final long[] bits;
    final double scale;
    final float[] elementScale;

    KeepMask(long[] bits, double scale, float[] elementScale) {
        this.bits = bits;
        this.scale = scale;
        this.elementScale = elementScale;
    }

    static long[] none(int n) {
        return new long[(n + 63) >>> 6];
    }

    static void set(long[] bits, int i) {
        bits[i >>> 6] |= 1L << i;
    }

    boolean kept(int i) {
        return bits == null || (bits[i >>> 6] & (1L << i)) != 0;
    }

    /** The factor on element {@code i} of the task vector (0 when dropped). */
    double factor(int i) {
        if (!kept(i)) {
            return 0.0;
        }
        return elementScale == null ? scale : scale * elementScale[i];
    }
}
