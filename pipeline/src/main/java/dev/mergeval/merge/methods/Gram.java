package dev.mergeval.merge.methods;

/**
 * Inner products of the vectors {@code v_k = x_k - base} (formed in float, as mergekit's float32
 * task vectors; {@code v_k = x_k} without a base), accumulated in double. Methods whose result is
 * a linear combination of their inputs (karcher, multislerp) run their iterations on this
 * {@code M x M} matrix instead of on {@code n}-element vectors: one pass over the tensor for the
 * matrix, one for the output, no per-element scratch.
 *
 * <p>An instance accumulates the matrix over a tensor's chunks, in order from element 0. Each
 * block of {@value #BLOCK} elements (from element 0, whatever the chunks) is summed on its own and
 * then added to the matrix, so the matrix does not depend on how the tensor was chunked.
 */
final class Gram {
    private static final int BLOCK = 1024;

    private final double[][] g;
    private final double[][] block;
    private final float[][] v;
    private int inBlock;

    Gram(int m) {
        g = new double[m][m];
        block = new double[m][m];
        v = new float[m][BLOCK];
    }

    /** Adds elements {@code [0, n)} of the vectors, the next {@code n} of the tensor; {@code base} may be null. */
    void add(float[][] xs, float[] base, int n) {
        int m = g.length;
        for (int from = 0; from < n; ) {
            int len = Math.min(BLOCK - inBlock, n - from);
            for (int k = 0; k < m; k++) {
                float[] x = xs[k];
                float[] vk = v[k];
                for (int j = 0; j < len; j++) {
                    vk[j] = base == null ? x[from + j] : x[from + j] - base[from + j];
                }
            }
            for (int k = 0; k < m; k++) {
                for (int l = k; l < m; l++) {
                    float[] a = v[k];
                    float[] b = v[l];
                    double s = block[k][l];
                    for (int j = 0; j < len; j++) {
                        s += (double) a[j] * b[j];
                    }
                    block[k][l] = s;
                }
            }
            from += len;
            inBlock += len;
            if (inBlock == BLOCK) {
                flush();
            }
        }
    }

    private void flush() {
        for (int k = 0; k < g.length; k++) {
            for (int l = k; l < g.length; l++) {
                g[k][l] += block[k][l];
                block[k][l] = 0;
            }
        }
        inBlock = 0;
    }

    /** {@code G[k][l] = v_k . v_l} over the elements added, once they all are. */
    double[][] matrix() {
        if (inBlock > 0) {
            flush();
        }
        double[][] out = new double[g.length][];
        for (int k = 0; k < g.length; k++) {
            out[k] = g[k].clone();
            for (int l = 0; l < k; l++) {
                out[k][l] = g[l][k];
            }
        }
        return out;
    }

    /** {@code a^T G b}: the inner product of {@code sum_k a_k v_k} and {@code sum_k b_k v_k}. */
    static double dot(double[][] g, double[] a, double[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) {
            for (int l = 0; l < b.length; l++) {
                s += a[k] * g[k][l] * b[l];
            }
        }
        return s;
    }

    /** The norm of {@code sum_k c_k v_k} (rounding can make the quadratic form slightly negative: 0 then). */
    static double norm(double[][] g, double[] c) {
        return Math.sqrt(Math.max(0.0, dot(g, c, c)));
    }

    /**
     * {@code base_i + sum_k c_k v_ki} for elements {@code [0, n)}, each rounded once to float, into
     * {@code out} ({@code base} may be null; then the sum alone).
     */
    static void combine(float[][] xs, float[] base, double[] c, int n, float[] out) {
        for (int i = 0; i < n; i++) {
            double y = 0;
            for (int k = 0; k < xs.length; k++) {
                float v = base == null ? xs[k][i] : xs[k][i] - base[i];
                y += c[k] * v;
            }
            out[i] = (float) (base == null ? y : base[i] + y);
        }
    }
}
