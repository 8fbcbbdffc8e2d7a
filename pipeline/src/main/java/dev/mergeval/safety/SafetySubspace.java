package dev.mergeval.safety;

import dev.mergeval.common.BadInputException;
import java.io.Serializable;
import java.util.Arrays;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.common.TruncatedSvd.Factors;
import org.ejml.data.DMatrixRMaj;

/**
 * The dominant safety subspace of one weight matrix (SPF, arXiv 2601.10141): the rank-k truncated
 * SVD of the matrix's safety gradient,
 * <pre>
 *   G_s ~ U_k S_k V_k^T,       P(D) = U_k U_k^T D V_k V_k^T,
 *   CER(k) = sum_{i &lt; k} s_i^2 / ||G_s||_F^2.
 * </pre>
 * A step {@code D} conflicts with safety when {@code <D, U_k S_k V_k^T> > 0} (to first order it
 * raises the safety loss); SPF then applies {@code D - P(D)}, which has no component in the
 * subspace.
 *
 * <p>The SVD is exact (EJML, double precision) when {@code min(rows, cols) <= }{@value #EXACT_LIMIT};
 * above that it is the randomized range finder of Halko, Martinsson and Tropp (2011)
 * ({@link TruncatedSvd#randomized}), its Gaussian test matrix drawn from the counter-based stream of
 * the tensor's name, so the result does not depend on where or in which order matrices are decomposed. The CER's denominator is always the
 * exact {@code ||G_s||_F^2}.
 *
 * @param rows rows of the matrix
 * @param cols columns of the matrix
 * @param u {@code U_k}, rows x k, row-major
 * @param s the k largest singular values, descending
 * @param v {@code V_k}, cols x k, row-major
 * @param cer {@code CER(k)}; 1 for a zero gradient
 */
public record SafetySubspace(int rows, int cols, float[] u, float[] s, float[] v, double cer) implements Serializable {

    /** Largest {@code min(rows, cols)} decomposed exactly. */
    public static final int EXACT_LIMIT = TruncatedSvd.EXACT_LIMIT;
    /** The fixed seed of the randomized SVD's Gaussian sketch: the subspace is a function of the weights only. */
    static final long SKETCH_SEED = 0L;

    public SafetySubspace {
        int k = s.length;
        if (u.length != (long) rows * k || v.length != (long) cols * k) {
            throw new IllegalArgumentException("factors do not match " + rows + "x" + cols + " at rank " + k);
        }
    }

    /** The rank-{@code rank} subspace of {@code gradient} (row-major, rows x cols) of {@code tensor}. */
    public static SafetySubspace of(String tensor, float[] gradient, int rows, int cols, int rank) {
        check(tensor, gradient, rows, cols);
        int max = Math.min(rows, cols);
        if (rank < 1 || rank > max) {
            throw new BadInputException(tensor + ": rank " + rank + " is outside 1.." + max
                    + " (the matrix is " + rows + "x" + cols + ")");
        }
        DMatrixRMaj g = DMatrixRMaj.wrap(rows, cols, toDouble(gradient));
        Factors f = max <= EXACT_LIMIT ? exact(g) : randomized(tensor, g, rank);
        return truncate(f, rows, cols, rank, frobenius2(gradient));
    }

    /**
     * The smallest subspace whose {@code CER} reaches {@code cer} (in (0, 1]). Above the exact limit
     * the randomized rank is doubled until it does, or the exact SVD is taken.
     */
    public static SafetySubspace ofCer(String tensor, float[] gradient, int rows, int cols, double cer) {
        check(tensor, gradient, rows, cols);
        if (!(cer > 0 && cer <= 1)) {
            throw new BadInputException(tensor + ": CER " + cer + " is outside (0, 1]");
        }
        int max = Math.min(rows, cols);
        double total = frobenius2(gradient);
        DMatrixRMaj g = DMatrixRMaj.wrap(rows, cols, toDouble(gradient));
        for (int k = 16; max > EXACT_LIMIT && k <= max / 4; k *= 2) {
            Factors f = randomized(tensor, g, k);
            int need = rankFor(f.s(), total, cer);
            if (need <= k) {
                return truncate(f, rows, cols, need, total);
            }
        }
        Factors f = exact(g);
        return truncate(f, rows, cols, Math.min(rankFor(f.s(), total, cer), max), total);
    }

    /** All singular values of a row-major matrix, descending. */
    public static double[] singularValues(float[] matrix, int rows, int cols) {
        check("matrix", matrix, rows, cols);
        return exact(DMatrixRMaj.wrap(rows, cols, toDouble(matrix))).s();
    }

    /** {@code CER(k)} of a full list of singular values (descending); 1 when they are all zero. */
    public static double cer(double[] singularValues, int k) {
        double top = 0;
        double all = 0;
        for (int i = 0; i < singularValues.length; i++) {
            double sq = singularValues[i] * singularValues[i];
            all += sq;
            if (i < k) {
                top += sq;
            }
        }
        return all == 0 ? 1 : top / all;
    }

    public int rank() {
        return s.length;
    }

    /** {@code <D, U_k S_k V_k^T>}: positive when the step {@code d} raises the safety loss to first order. */
    public double inner(float[] d) {
        checkShape(d);
        int k = rank();
        double[] dv = times(d, v, rows, cols, k);
        double sum = 0;
        for (int i = 0; i < k; i++) {
            double ui = 0;
            for (int r = 0; r < rows; r++) {
                ui += u[r * k + i] * dv[r * k + i];
            }
            sum += s[i] * ui;
        }
        return sum;
    }

    /** {@code P(D) = U_k U_k^T D V_k V_k^T}. */
    public float[] component(float[] d) {
        checkShape(d);
        int k = rank();
        double[] dv = times(d, v, rows, cols, k);
        double[] m = new double[k * k];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < k; i++) {
                double ur = u[r * k + i];
                for (int j = 0; j < k; j++) {
                    m[i * k + j] += ur * dv[r * k + j];
                }
            }
        }
        float[] out = new float[rows * cols];
        double[] um = new double[k];
        for (int r = 0; r < rows; r++) {
            Arrays.fill(um, 0);
            for (int i = 0; i < k; i++) {
                double ur = u[r * k + i];
                for (int j = 0; j < k; j++) {
                    um[j] += ur * m[i * k + j];
                }
            }
            for (int c = 0; c < cols; c++) {
                double x = 0;
                for (int j = 0; j < k; j++) {
                    x += um[j] * v[c * k + j];
                }
                out[r * cols + c] = (float) x;
            }
        }
        return out;
    }

    /** {@code D - P(D)}: the step with its part in the safety subspace removed. */
    public float[] removeFrom(float[] d) {
        float[] p = component(d);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = d[i] - p[i];
        }
        return out;
    }

    private void checkShape(float[] d) {
        if (d.length != (long) rows * cols) {
            throw new IllegalArgumentException(d.length + " elements for a " + rows + "x" + cols + " subspace");
        }
    }

    /** {@code D V} (rows x k) in double precision. */
    private static double[] times(float[] d, float[] v, int rows, int cols, int k) {
        double[] out = new double[rows * k];
        for (int r = 0; r < rows; r++) {
            int row = r * cols;
            for (int c = 0; c < cols; c++) {
                double x = d[row + c];
                if (x == 0) {
                    continue;
                }
                int vc = c * k;
                int o = r * k;
                for (int j = 0; j < k; j++) {
                    out[o + j] += x * v[vc + j];
                }
            }
        }
        return out;
    }

    private static void check(String tensor, float[] g, int rows, int cols) {
        if (rows < 1 || cols < 1 || g.length != (long) rows * cols) {
            throw new BadInputException(tensor + ": " + g.length + " gradient elements for a " + rows + "x" + cols
                    + " matrix");
        }
        for (float x : g) {
            if (!Float.isFinite(x)) {
                throw new BadInputException(tensor + ": the safety gradient is not finite");
            }
        }
    }

    private static int rankFor(double[] s, double total, double cer) {
        if (total == 0) {
            return 1;
        }
        double top = 0;
        for (int i = 0; i < s.length; i++) {
            top += s[i] * s[i];
            if (top / total >= cer * (1 - 1e-12)) {
                return i + 1;
            }
        }
        return s.length + 1;
    }

    private static double frobenius2(float[] g) {
        double sum = 0;
        for (float x : g) {
            sum += (double) x * x;
        }
        return sum;
    }

    private static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }

    /** The first {@code k} factors of {@code f} as a subspace. */
    private static SafetySubspace truncate(Factors f, int rows, int cols, int k, double total) {
        float[] u = new float[rows * k];
        float[] v = new float[cols * k];
        float[] sk = new float[k];
        double top = 0;
        for (int i = 0; i < k; i++) {
            sk[i] = (float) f.s()[i];
            top += f.s()[i] * f.s()[i];
            for (int r = 0; r < rows; r++) {
                u[r * k + i] = (float) f.left().get(r, i);
            }
            for (int c = 0; c < cols; c++) {
                v[c * k + i] = (float) f.right().get(c, i);
            }
        }
        return new SafetySubspace(rows, cols, u, sk, v, total == 0 ? 1 : Math.min(1, top / total));
    }

    private static Factors exact(DMatrixRMaj g) {
        return TruncatedSvd.exact(g);
    }

    private static Factors randomized(String tensor, DMatrixRMaj g, int rank) {
        return TruncatedSvd.randomized(g, rank, SKETCH_SEED, "safety-subspace/" + tensor);
    }
}
