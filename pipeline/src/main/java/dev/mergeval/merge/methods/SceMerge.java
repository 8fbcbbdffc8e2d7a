package dev.mergeval.merge.methods;

import dev.mergeval.merge.MagnitudeSelection;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.TensorParams;
import java.util.Arrays;
import java.util.List;

/**
 * SCE (select, calculate, erase), as mergekit's {@code sce.py}, on the task vectors
 * {@code d_k = x_k - b} (formed in float) of the {@code N} non-base models:
 * <ol>
 *   <li>Select, when {@code select_topk < 1}: per position the variance across models
 *       {@code var_i = mean_k (d_ki - mean_k d_ki)^2} (accumulated in double, ranked as float, the
 *       dtype torch's {@code var} returns); of the {@code nz} positions with {@code var_i != 0}, the
 *       {@code K = int(float(nz) * float(select_topk))} largest are kept in every {@code d_k}, the
 *       others zeroed (equal variances: the lower index first; {@code K = 0} or
 *       {@code select_topk <= 0}: all zeroed);</li>
 *   <li>Calculate: {@code w_k = mean_i d_ki^2 / sum_l mean_i d_li^2}, or {@code 1 / N} when that
 *       sum is below 1e-6;</li>
 *   <li>Erase: per element the elected sign is {@code +1} if {@code sum_k d_ki >= 0} else
 *       {@code -1}, and {@code m_ki = 1} where {@code sign(d_ki)} equals it (a zero never does);</li>
 *   <li>{@code y = b + sum_k w_k m_k d_k / max(sum_k w_k m_k, 1e-6)}.</li>
 * </ol>
 * Global {@code select_topk} (1) and {@code int8_mask} (false; mergekit's mask dtype, no effect on
 * values). No per-model weights. Wan et al., FuseChat, https://arxiv.org/abs/2408.07990
 */
public final class SceMerge implements MergeMethod {
    @Override
    public String name() {
        return "sce";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2408.07990";
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.bool("int8_mask", false), ParamDef.number("select_topk", 1.0));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireBase(config, name());
        if (Rules.others(config) < 1) {
            throw config.error("models", "sce needs at least one model besides base_model");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] base = r.inputs()[r.baseIndex()];
        int[] others = Rules.otherIndices(r);
        int m = others.length;
        int n = base.length;
        float[][] d = new float[m][n];
        for (int k = 0; k < m; k++) {
            float[] x = r.inputs()[others[k]];
            for (int i = 0; i < n; i++) {
                d[k][i] = x[i] - base[i];
            }
        }
        double topk = r.params().global().number("select_topk");
        if (topk < 1) {
            select(d, topk);
        }
        double[] w = new double[m];
        double wSum = 0;
        for (int k = 0; k < m; k++) {
            double s = 0;
            for (float v : d[k]) {
                s += (double) v * v;
            }
            w[k] = s / n;
            wSum += w[k];
        }
        for (int k = 0; k < m; k++) {
            w[k] = Math.abs(wSum) < 1e-6 ? 1.0 / m : w[k] / wSum;
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double vote = 0;
            for (int k = 0; k < m; k++) {
                vote += d[k][i];
            }
            float elected = vote >= 0 ? 1f : -1f;
            double sum = 0;
            double weights = 0;
            for (int k = 0; k < m; k++) {
                if (Math.signum(d[k][i]) == elected) {
                    sum += w[k] * d[k][i];
                    weights += w[k];
                }
            }
            out[i] = (float) (base[i] + sum / Math.max(weights, 1e-6));
        }
        return out;
    }

    /** Zeroes, in every task vector, the positions outside the {@code topk} share of highest variance. */
    private static void select(float[][] d, double topk) {
        int m = d.length;
        int n = d[0].length;
        float[] variance = new float[n];
        int nonzero = 0;
        for (int i = 0; i < n; i++) {
            double mean = 0;
            for (float[] dk : d) {
                mean += dk[i];
            }
            mean /= m;
            double s = 0;
            for (float[] dk : d) {
                double c = dk[i] - mean;
                s += c * c;
            }
            variance[i] = (float) (s / m);
            nonzero += variance[i] != 0 ? 1 : 0;
        }
        // int64 count times a Python float is a float32 tensor in torch, then int() truncates.
        int keep = topk <= 0 ? 0 : (int) ((float) nonzero * (float) topk);
        if (keep == 0) {
            for (float[] dk : d) {
                Arrays.fill(dk, 0f);
            }
            return;
        }
        // Variances are non-negative floats: |variance - 0| ranks them by their float bits.
        float[] zeros = new float[n];
        MagnitudeSelection.Rank kth = MagnitudeSelection.select(variance, zeros, n - keep);
        int threshold = kth.bits();
        int equalAllowed = keep - (n - kth.below() - kth.equal());
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(variance[i]);
            boolean kept = bits > threshold || (bits == threshold && equalAllowed-- > 0);
            if (!kept) {
                for (float[] dk : d) {
                    dk[i] = 0f;
                }
            }
        }
    }
}
