package dev.mergeval.lora;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.merge.TiedHead;
import org.apache.hadoop.conf.Configuration;
import org.ejml.data.DMatrixRMaj;

/**
 * One tensor's task of an extraction, wherever it runs: reads the tensor from both models, forms
 * {@code D = FT - BASE} in double precision and, for a matrix, its truncated SVD
 * {@code D ~ U_k S_k V_k^T}, written as {@code A = sqrt(S_k) V_k^T [k, in]} and
 * {@code B = U_k sqrt(S_k) [out, k]} (mergekit's split: both factors carry half the scale, so
 * neither holds values far from the other's in float32; without {@link ExtractionPlan.Factors#distributeScale},
 * {@code A = S_k V_k^T} and {@code B = U_k}), so {@code B @ A = U_k S_k V_k^T}.
 *
 * <p>The rank kept is {@code k = min(max_rank, rows, cols, numerical rank)}, the numerical rank
 * counting singular values above {@code s_0 * max(rows, cols) * 2^-52} (double's epsilon, as numpy's
 * {@code matrix_rank}). {@code D} is formed exactly from the stored values, so it holds no rounding
 * noise of the inputs: every part of it is FT's change, however small (a one-ulp BF16 change is one),
 * and only the SVD's own rounding, in double precision, is cut. Its backward error is of the order of
 * {@code s_0 * eps}, so an exactly low-rank {@code D} shows spurious singular values below the bound,
 * whose vectors are arbitrary; dropping them changes {@code B A} by far less than the float32 rounding
 * of the factors kept, and keeps such a difference at its own rank. (Before 2026-12-07 the bound used
 * float32's epsilon, {@code 2^-23}, and cut genuine small parts of {@code D}.) Singular values
 * at or below {@link ExtractionPlan.Factors#svEpsilon} are dropped too, possibly all of them. The relative
 * error recorded is that of the float32 factors as written, {@code ||D - B A||_F / ||D||_F}.
 */
public final class DeltaDecomposer {

    /** double's machine epsilon: the bound of the SVD's own rounding, relative to {@code s_0}. */
    private static final double DOUBLE_EPSILON = 0x1.0p-52;

    private DeltaDecomposer() {
    }

    /**
     * Runs task {@code index} of {@code plan}, opening both models through {@code conf} (as
     * {@link Checkpoint#openFor} does for the tasks of one plan).
     */
    public static DeltaResult run(ExtractionPlan plan, int index, Configuration conf) {
        ExtractionPlan.DeltaTask task = plan.tasks().get(index);
        float[] ft;
        float[] base;
        try (Checkpoint ftFile = Checkpoint.openFor(plan, plan.model(), conf);
                Checkpoint baseFile = Checkpoint.openFor(plan, plan.baseModel(), conf)) {
            Checkpoint m = TiedHead.aliased(ftFile, baseFile);
            Checkpoint b = TiedHead.aliased(baseFile, ftFile);
            // A resized embedding is compared over the rows both have (a prefix of each).
            int n = Math.toIntExact(Math.min(m.info(task.tensor()).numElements(), b.info(task.tensor()).numElements()));
            ft = m.readFloats(task.tensor(), 0, n);
            base = b.readFloats(task.tensor(), 0, n);
        }
        double[] d = new double[ft.length];
        double norm2 = 0;
        for (int i = 0; i < d.length; i++) {
            double x = (double) ft[i] - base[i];
            if (!Double.isFinite(x)) {
                throw new BadInputException(task.tensor() + ": element " + i + " is not finite in "
                        + (Float.isFinite(ft[i]) ? plan.baseModel() : plan.model()));
            }
            d[i] = x;
            norm2 += x * x;
        }
        double norm = Math.sqrt(norm2);
        if (!task.lora() || norm2 == 0) {
            return DeltaResult.compared(task.tensor(), task.lora(), task.resized() || norm2 > 0, norm);
        }
        return decompose(plan, task, d, norm);
    }

    private static DeltaResult decompose(ExtractionPlan plan, ExtractionPlan.DeltaTask task, double[] d,
            double norm) {
        int rows = Math.toIntExact(task.shape()[0]);
        int cols = Math.toIntExact(task.shape()[1]);
        DMatrixRMaj g = DMatrixRMaj.wrap(rows, cols, d);
        int want = Math.min(plan.maxRank(), Math.min(rows, cols));
        boolean randomized = plan.svd() == ExtractionPlan.Svd.RANDOMIZED
                || (plan.svd() == ExtractionPlan.Svd.AUTO && Math.min(rows, cols) > plan.exactLimit());
        TruncatedSvd.Factors f = randomized
                ? TruncatedSvd.randomized(g, want, plan.seed(), "extract-lora/" + task.tensor())
                : TruncatedSvd.exact(g);
        double tolerance = f.s()[0] * Math.max(rows, cols) * DOUBLE_EPSILON;
        int k = 1;
        while (k < want && k < f.s().length && f.s()[k] > tolerance) {
            k++;
        }
        ExtractionPlan.Factors factors = plan.factors();
        while (k > 0 && f.s()[k - 1] <= factors.svEpsilon()) {
            k--;
        }
        float[] a = new float[k * cols];
        float[] b = new float[rows * k];
        for (int i = 0; i < k; i++) {
            double toA = factors.distributeScale() ? Math.sqrt(f.s()[i]) : f.s()[i];
            double toB = factors.distributeScale() ? toA : 1.0;
            for (int c = 0; c < cols; c++) {
                a[i * cols + c] = (float) (toA * f.right().get(c, i));
            }
            for (int r = 0; r < rows; r++) {
                b[r * k + i] = (float) (f.left().get(r, i) * toB);
            }
        }
        double err2 = 0;
        double[] row = new double[cols];
        for (int r = 0; r < rows; r++) {
            java.util.Arrays.fill(row, 0);
            for (int i = 0; i < k; i++) {
                double bri = b[r * k + i];
                int ai = i * cols;
                for (int c = 0; c < cols; c++) {
                    row[c] += bri * a[ai + c];
                }
            }
            int dr = r * cols;
            for (int c = 0; c < cols; c++) {
                double e = d[dr + c] - row[c];
                err2 += e * e;
            }
        }
        return new DeltaResult(task.tensor(), true, true, norm, k, randomized ? "randomized" : "exact", a, b,
                Math.sqrt(err2) / norm);
    }
}
