package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.TensorParams;
import java.util.List;

/**
 * Model Stock: with base {@code w0} and fine-tunes {@code w_1..w_N} ({@code N >= 2}), offsets
 * {@code o_k = w_k - w0}, {@code cos} the mean over pairs {@code k < l} of
 * {@code clamp(o_k . o_l / max(|o_k| |o_l|, 1e-6), -1, 1)},
 * {@code t = N cos / (1 + (N - 1) cos)} and {@code y = t * mean_k(w_k) + (1 - t) * w0}.
 * Over the whole flattened tensor, or per row along the last dimension with {@code filter_wise}
 * (a 1-D tensor is one row). Where {@code 1 + (N - 1) cos == 0} (offsets exactly opposed),
 * {@code t} is undefined and the base is returned (mergekit yields inf/NaN).
 * Jang et al., https://arxiv.org/abs/2403.19522
 */
public final class ModelStockMerge implements MergeMethod {
    @Override
    public String name() {
        return "model_stock";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2403.19522";
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.bool("filter_wise", false));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireBase(config, name());
        if (Rules.others(config) < 2) {
            throw config.error("models", "model_stock needs base_model plus at least two other models (got "
                    + Rules.others(config) + " others)");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] w0 = r.inputs()[r.baseIndex()];
        float[][] ws = new float[r.inputs().length - 1][];
        for (int k = 0, j = 0; k < r.inputs().length; k++) {
            if (k != r.baseIndex()) {
                ws[j++] = r.inputs()[k];
            }
        }
        int n = w0.length;
        long[] shape = r.shape();
        int len = r.params().global().bool("filter_wise") && shape.length >= 1 ? (int) shape[shape.length - 1] : n;
        int rows = n / len;
        int m = ws.length;
        float[] out = new float[n];
        double[] norms = new double[m];
        for (int row = 0; row < rows; row++) {
            int from = row * len;
            int to = from + len;
            for (int k = 0; k < m; k++) {
                double s = 0;
                for (int i = from; i < to; i++) {
                    double o = ws[k][i] - w0[i];
                    s += o * o;
                }
                norms[k] = Math.sqrt(s);
            }
            double cosSum = 0;
            int pairs = 0;
            for (int k = 0; k < m; k++) {
                for (int l = k + 1; l < m; l++) {
                    double dot = 0;
                    for (int i = from; i < to; i++) {
                        dot += (double) (ws[k][i] - w0[i]) * (ws[l][i] - w0[i]);
                    }
                    double c = dot / Math.max(norms[k] * norms[l], 1e-6);
                    cosSum += Math.max(-1.0, Math.min(1.0, c));
                    pairs++;
                }
            }
            double cos = cosSum / pairs;
            double denominator = 1 + (m - 1) * cos;
            double t = denominator == 0 ? 0.0 : m * cos / denominator;
            for (int i = from; i < to; i++) {
                double avg = 0;
                for (int k = 0; k < m; k++) {
                    avg += ws[k][i];
                }
                avg /= m;
                out[i] = (float) (t * avg + (1 - t) * w0[i]);
            }
        }
        return out;
    }
}
