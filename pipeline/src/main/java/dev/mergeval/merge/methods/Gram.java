package dev.mergeval.merge.methods;

/**
 * Inner products of the vectors {@code v_k = x_k - base} (formed in float, as mergekit's float32
 * task vectors; {@code v_k = x_k} without a base), accumulated in double. Methods whose result is
 * a linear combination of their inputs (karcher, multislerp) run their iterations on this
 * {@code M x M} matrix instead of on {@code n}-element vectors: one pass over the tensor for the
 * matrix, one for the output, no per-element scratch.
 */
final class Gram {
    private static final int BLOCK = 1024;

    private Gram() {
    }

    /** {@code G[k][l] = v_k . v_l} over all elements; {@code base} may be null. */
    static double[][] of(float[][] xs, float[] base) {
        int m = xs.length;
        int n = xs[0].length;
        double[][] g = new double[m][m];
        float[][] v = new float[m][BLOCK];
        for (int from = 0; from < n; from += BLOCK) {
            int len = Math.min(BLOCK, n - from);
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
                    double s = 0;
                    for (int j = 0; j < len; j++) {
                        s += (double) a[j] * b[j];
                    }
                    g[k][l] += s;
                }
            }
        }
        for (int k = 0; k < m; k++) {
            for (int l = 0; l < k; l++) {
                g[k][l] = g[l][k];
            }
        }
        return g;
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
     * {@code base_i + sum_k c_k v_ki} per element, rounded once to float ({@code base} may be null;
     * then the sum alone).
     */
    static float[] combine(float[][] xs, float[] base, double[] c) {
        int n = xs[0].length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double y = 0;
            for (int k = 0; k < xs.length; k++) {
                float v = base == null ? xs[k][i] : xs[k][i] - base[i];
                y += c[k] * v;
            }
            out[i] = (float) (base == null ? y : base[i] + y);
        }
        return out;
    }
}
