package dev.mergeval.common;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Singular value decompositions of dense double matrices, shared by the safety subspace (SPF, Safe
 * LoRA's inputs) and LoRA extraction: the exact one (EJML) and the randomized range finder of
 * Halko, Martinsson and Tropp (2011, Algorithm 4.4 with {@value #POWER_ITERATIONS} power iterations
 * and {@value #OVERSAMPLE} extra columns), whose Gaussian test matrix comes from the counter-based
 * stream of a name ({@link KeyedRandom#counterKey}), so a matrix decomposes the same wherever and in
 * whichever order it is visited.
 */
public final class TruncatedSvd {

    /** Largest {@code min(rows, cols)} that callers decompose exactly by default. */
    public static final int EXACT_LIMIT = 1024;
    static final int OVERSAMPLE = 10;
    static final int POWER_ITERATIONS = 2;

    /**
     * Left vectors (rows x n), singular values (n, descending), right vectors (cols x n).
     * {@code left * diag(s) * right^T} is the decomposed matrix, or its projection on the range found.
     */
    public record Factors(DMatrixRMaj left, double[] s, DMatrixRMaj right) {
    }

    private TruncatedSvd() {
    }

    /** The full thin SVD, singular values descending. */
    public static Factors exact(DMatrixRMaj g) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd =
                DecompositionFactory_DDRM.svd(g.numRows, g.numCols, true, true, true);
        if (!svd.decompose(g.copy())) {
            throw new IllegalStateException("SVD did not converge on a " + g.numRows + "x" + g.numCols + " matrix");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, w, v, false);
        double[] s = new double[Math.min(g.numRows, g.numCols)];
        for (int i = 0; i < s.length; i++) {
            s[i] = w.get(i, i);
        }
        return new Factors(u, s, v);
    }

    /**
     * The leading {@code rank + }{@value #OVERSAMPLE} (at most {@code min(rows, cols)}) factors of
     * {@code g}: the range of {@code G (G^T G)^q Omega}, then the exact SVD of the small
     * {@code Q^T G}. {@code left * diag(s) * right^T} is the orthogonal projection of {@code g} on
     * that range, so its first {@code k} terms are a rank-k approximation whose squared Frobenius
     * error is {@code ||g||^2 - sum_{i<k} s_i^2}.
     *
     * @param seed seed of the sketch's stream
     * @param stream the stream's name (the tensor's, prefixed by the caller's purpose)
     */
    public static Factors randomized(DMatrixRMaj g, int rank, long seed, String stream) {
        int l = Math.min(rank + OVERSAMPLE, Math.min(g.numRows, g.numCols));
        DMatrixRMaj omega = gaussian(seed, stream, g.numCols, l);
        DMatrixRMaj y = new DMatrixRMaj(g.numRows, l);
        CommonOps_DDRM.mult(g, omega, y);
        DMatrixRMaj q = orthonormal(y);
        DMatrixRMaj z = new DMatrixRMaj(g.numCols, l);
        for (int it = 0; it < POWER_ITERATIONS; it++) {
            CommonOps_DDRM.multTransA(g, q, z);
            CommonOps_DDRM.mult(g, orthonormal(z), y);
            q = orthonormal(y);
        }
        DMatrixRMaj b = new DMatrixRMaj(l, g.numCols);
        CommonOps_DDRM.multTransA(q, g, b);
        Factors small = exact(b);
        DMatrixRMaj u = new DMatrixRMaj(g.numRows, small.left.numCols);
        CommonOps_DDRM.mult(q, small.left, u);
        return new Factors(u, small.s, small.right);
    }

    private static DMatrixRMaj orthonormal(DMatrixRMaj a) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(a.numRows, a.numCols);
        if (!qr.decompose(a.copy())) {
            throw new IllegalStateException("QR failed on a " + a.numRows + "x" + a.numCols + " matrix");
        }
        return qr.getQ(null, true);
    }

    /** Standard normal entries (Box-Muller) from the counter-based stream {@code stream} under {@code seed}. */
    private static DMatrixRMaj gaussian(long seed, String stream, int rows, int cols) {
        long key = KeyedRandom.counterKey(seed, stream, 0);
        DMatrixRMaj m = new DMatrixRMaj(rows, cols);
        double[] data = m.getData();
        for (int i = 0; i < data.length; i++) {
            double u1 = 1 - KeyedRandom.uniform(key, 2L * i);
            double u2 = KeyedRandom.uniform(key, 2L * i + 1);
            data[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        }
        return m;
    }
}
