package dev.mergeval.merge.methods;

import dev.mergeval.common.Shapes;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.List;

/**
 * Model Stock: with base {@code w0} and fine-tunes {@code w_1..w_N} ({@code N >= 2}), offsets
 * {@code o_k = w_k - w0}, {@code cos} the mean over pairs {@code k < l} of
 * {@code clamp(o_k . o_l / max(|o_k| |o_l|, 1e-6), -1, 1)},
 * {@code t = N cos / (1 + (N - 1) cos)} and {@code y = t * mean_k(w_k) + (1 - t) * w0}.
 * Over the whole flattened tensor, or per row along the last dimension with {@code filter_wise}
 * (a 1-D tensor is one row). Where {@code 1 + (N - 1) cos == 0} (offsets exactly opposed),
 * {@code t} is undefined and the base is returned (mergekit yields inf/NaN). Streamed: one pass
 * for the norms and inner products, one for the output.
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

    /** Mergekit's model_stock returns the base where it is the only tensor. */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return config.baseModel().isPresent();
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
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params, params.baseIndex(), shape);
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.params(), r.baseIndex(), r.shape()), r.inputs());
    }

    /**
     * Per row (the whole tensor as one row without {@code filter_wise}), the offsets' squared norms
     * and pairwise inner products in one pass, then the interpolation with that row's {@code t}.
     */
    private static final class Streamed extends OnePassMerge {
        private final int b;
        private final int[] tunes;
        private final long len;
        private final int rows;
        /** Per row, the squared norm of each offset, then the inner product of each pair k < l. */
        private final double[][] sums;
        private final double[] t;

        Streamed(TensorParams params, int baseIndex, long[] shape) {
            super(true);
            b = baseIndex;
            tunes = new int[params.perModel().size() - 1];
            for (int k = 0, j = 0; k < params.perModel().size(); k++) {
                if (k != b) {
                    tunes[j++] = k;
                }
            }
            long n = Shapes.numElements(shape);
            len = params.global().bool("filter_wise") && shape.length >= 1 ? shape[shape.length - 1] : n;
            rows = len == 0 ? 0 : Math.toIntExact(n / len);
            int m = tunes.length;
            sums = new double[rows][m + m * (m - 1) / 2];
            t = new double[rows];
        }

        @Override
        public void observe(float[][] inputs, long offset, int n) {
            float[] w0 = inputs[b];
            int m = tunes.length;
            VectorRuns.forEach(offset, n, len, rows, (from, to, row) -> {
                double[] s = sums[row];
                for (int k = 0; k < m; k++) {
                    float[] wk = inputs[tunes[k]];
                    double sum = s[k];
                    for (int j = from; j < to; j++) {
                        double o = wk[j] - w0[j];
                        sum += o * o;
                    }
                    s[k] = sum;
                }
                for (int k = 0, p = m; k < m; k++) {
                    float[] wk = inputs[tunes[k]];
                    for (int l = k + 1; l < m; l++, p++) {
                        float[] wl = inputs[tunes[l]];
                        double dot = s[p];
                        for (int j = from; j < to; j++) {
                            dot += (double) (wk[j] - w0[j]) * (wl[j] - w0[j]);
                        }
                        s[p] = dot;
                    }
                }
            });
        }

        @Override
        void finish() {
            int m = tunes.length;
            double[] norms = new double[m];
            for (int row = 0; row < rows; row++) {
                double[] s = sums[row];
                for (int k = 0; k < m; k++) {
                    norms[k] = Math.sqrt(s[k]);
                }
                double cosSum = 0;
                int pairs = 0;
                for (int k = 0, p = m; k < m; k++) {
                    for (int l = k + 1; l < m; l++, p++) {
                        double c = s[p] / Math.max(norms[k] * norms[l], 1e-6);
                        cosSum += Math.max(-1.0, Math.min(1.0, c));
                        pairs++;
                    }
                }
                double cos = cosSum / pairs;
                double denominator = 1 + (m - 1) * cos;
                t[row] = denominator == 0 ? 0.0 : m * cos / denominator;
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            float[] w0 = inputs[b];
            int m = tunes.length;
            VectorRuns.forEach(offset, n, len, rows, (from, to, row) -> {
                double tr = t[row];
                for (int j = from; j < to; j++) {
                    double avg = 0;
                    for (int k = 0; k < m; k++) {
                        avg += inputs[tunes[k]][j];
                    }
                    avg /= m;
                    out[j] = (float) (tr * avg + (1 - tr) * w0[j]);
                }
            });
        }
    }
}
