package dev.mergeval.merge.methods;

import dev.mergeval.common.Shapes;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorDecision;
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
 * values). No per-model weights. Streamed: the variances' cut in one or two passes, the weights in
 * one, then the output. Wan et al., FuseChat, https://arxiv.org/abs/2408.07990
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
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params, params.baseIndex(), Shapes.numElements(shape));
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.params(), r.baseIndex(), r.length()), r.inputs());
    }

    /**
     * Over the tensor's chunks: with {@code select_topk < 1}, the passes of the variances' cut
     * (counting the nonzero variances in its first, which sets how many it keeps); then a pass for
     * the weights' sums of squares of the selected task vectors; then the merge. The sums run in
     * flat index order and ties at the cut go to the lower index, as on the whole tensor.
     */
    private static final class Streamed implements StreamedMerge {
        private final int b;
        private final int[] others;
        private final long n;
        private final double topk;
        /** The variances' cut; null without selection or where nothing is kept. */
        private final StreamedMagnitudeCut cut;
        /** Every task vector zeroed: {@code K = 0}. */
        private boolean dropAll;
        private long nonzero;
        private boolean firstPass = true;
        private final double[] squares;
        private boolean weighed;
        private final double[] w;
        private float[][] d = new float[0][];
        private float[] variance = new float[0];
        private float[] zeros = new float[0];
        private long[] keep = new long[0];

        Streamed(TensorParams params, int baseIndex, long n) {
            b = baseIndex;
            others = Rules.otherIndices(params.perModel().size(), baseIndex);
            this.n = n;
            topk = params.global().number("select_topk");
            dropAll = topk <= 0;
            cut = topk < 1 && !dropAll && n > 0 ? new StreamedMagnitudeCut(n) : null;
            squares = new double[others.length];
            w = new double[others.length];
        }

        @Override
        public boolean needsPass() {
            return (cut != null && !dropAll && cut.needsPass()) || !weighed;
        }

        /** The chunk's task vectors {@code d_k = x_k - b} into {@link #d}. */
        private void deltas(float[][] inputs, int count) {
            int m = others.length;
            if (d.length != m || d[0].length < count) {
                d = new float[m][count];
                variance = new float[count];
                zeros = new float[count];
                keep = new long[(count + 63) >>> 6];
            }
            float[] base = inputs[b];
            for (int k = 0; k < m; k++) {
                float[] x = inputs[others[k]];
                float[] dk = d[k];
                for (int i = 0; i < count; i++) {
                    dk[i] = x[i] - base[i];
                }
            }
        }

        /** The selected task vectors of the chunk into {@link #d}: {@code d_k}, zeroed outside the cut. */
        private float[][] taskVectors(float[][] inputs, long offset, int count) {
            deltas(inputs, count);
            if (dropAll) {
                for (float[] dk : d) {
                    Arrays.fill(dk, 0, count, 0f);
                }
            } else if (cut != null) {
                variances(count);
                cut.bits(variance, zeros, offset, count, keep);
                for (int i = 0; i < count; i++) {
                    if ((keep[i >>> 6] & (1L << i)) == 0) {
                        for (float[] dk : d) {
                            dk[i] = 0f;
                        }
                    }
                }
            }
            return d;
        }

        /** {@code var_i} of the chunk's task vectors into {@link #variance}; returns how many are nonzero. */
        private long variances(int count) {
            int m = others.length;
            long nz = 0;
            for (int i = 0; i < count; i++) {
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
                nz += variance[i] != 0 ? 1 : 0;
            }
            return nz;
        }

        @Override
        public void observe(float[][] inputs, long offset, int count) {
            if (cut != null && !dropAll && cut.needsPass()) {
                deltas(inputs, count);
                long nz = variances(count);
                if (firstPass) {
                    nonzero += nz;
                }
                cut.observe(variance, zeros, offset, count);
                return;
            }
            float[][] v = taskVectors(inputs, offset, count);
            for (int k = 0; k < others.length; k++) {
                double s = squares[k];
                float[] dk = v[k];
                for (int i = 0; i < count; i++) {
                    s += (double) dk[i] * dk[i];
                }
                squares[k] = s;
            }
        }

        @Override
        public void endPass() {
            if (cut != null && !dropAll && cut.needsPass()) {
                if (firstPass) {
                    firstPass = false;
                    // int64 count times a Python float is a float32 tensor in torch, then int() truncates.
                    long k = (long) ((float) nonzero * (float) topk);
                    if (k == 0) {
                        dropAll = true;
                        return;
                    }
                    cut.keep(k);
                }
                cut.endPass();
                return;
            }
            weighed = true;
            int m = others.length;
            double wSum = 0;
            for (int k = 0; k < m; k++) {
                w[k] = squares[k] / n;
                wSum += w[k];
            }
            for (int k = 0; k < m; k++) {
                w[k] = Math.abs(wSum) < 1e-6 ? 1.0 / m : w[k] / wSum;
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int count, float[] out) {
            if (needsPass()) {
                throw new IllegalStateException("merge before the passes are done");
            }
            float[][] v = taskVectors(inputs, offset, count);
            float[] base = inputs[b];
            int m = others.length;
            for (int i = 0; i < count; i++) {
                double vote = 0;
                for (int k = 0; k < m; k++) {
                    vote += v[k][i];
                }
                float elected = vote >= 0 ? 1f : -1f;
                double sum = 0;
                double weights = 0;
                for (int k = 0; k < m; k++) {
                    if (Math.signum(v[k][i]) == elected) {
                        sum += w[k] * v[k][i];
                        weights += w[k];
                    }
                }
                out[i] = (float) (base[i] + sum / Math.max(weights, 1e-6));
            }
        }
    }
}
