package dev.mergeval.merge.methods;

import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Linear merge (model soups): {@code y = sum_i w_i x_i}, divided by {@code sum_i w_i} when
 * {@code normalize} (default true). A weight sum with {@code |sum| < 1e-8} divides by 1 instead
 * (mergekit divides by zero). The base model, if named, must be one of {@code models} and is
 * merged like any other. Wortsman et al., https://arxiv.org/abs/2203.05482
 */
public final class LinearMerge implements MergeMethod {
    private static final int BLOCK = 1024;

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2203.05482";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.weightedPair());
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.bool("normalize", true));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of(ParamDef.requiredNumber("weight"));
    }

    @Override
    public boolean baseExemptFromRequired() {
        return false;
    }

    @Override
    public void validate(MergeConfig config) {
        config.baseModel().ifPresent(base -> {
            if (config.models().stream().noneMatch(m -> m.model().equals(base))) {
                throw config.error("base_model", "linear merges only the listed models; list '" + base
                        + "' under models with a weight, or drop base_model");
            }
        });
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return true;
    }

    @Override
    public float[] merge(MergeRequest r) {
        int n = r.length();
        float[] out = new float[n];
        kernel(r.params(), r.decision()).merge(r.inputs(), n, out);
        return out;
    }

    /**
     * {@code out = (float) (0.0 + w_0 x_0 + w_1 x_1 + ...)} in double, in model order; two models
     * (the common case) in one pass, more in blocks that keep the accumulator small and the
     * per-model loop vectorisable.
     */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        int m = params.perModel().size();
        double[] w = new double[m];
        double sum = 0;
        for (int k = 0; k < m; k++) {
            w[k] = params.perModel().get(k).number("weight");
            sum += w[k];
        }
        if (params.global().bool("normalize")) {
            double divisor = Math.abs(sum) < 1e-8 ? 1.0 : sum;
            for (int k = 0; k < m; k++) {
                w[k] /= divisor;
            }
        }
        if (m == 2) {
            return new Pair(w[0], w[1]);
        }
        return (x, n, out) -> {
            double[] acc = new double[Math.min(n, BLOCK)];
            for (int from = 0; from < n; from += BLOCK) {
                int len = Math.min(BLOCK, n - from);
                Arrays.fill(acc, 0, len, 0.0);
                for (int k = 0; k < m; k++) {
                    float[] xk = x[k];
                    double wk = w[k];
                    for (int j = 0; j < len; j++) {
                        acc[j] += wk * xk[from + j];
                    }
                }
                for (int j = 0; j < len; j++) {
                    out[from + j] = (float) acc[j];
                }
            }
        };
    }

    /**
     * Two models (the common case) in one pass, also straight from BF16 bytes to BF16 bytes. Each
     * element starts from 0.0 like the accumulator of the general case (0.0 + -0.0 is +0.0).
     */
    private record Pair(double w0, double w1) implements ElementwiseKernel.Bf16 {

        @Override
        public void merge(float[][] x, int n, float[] out) {
            float[] x0 = x[0];
            float[] x1 = x[1];
            for (int j = 0; j < n; j++) {
                double acc = 0.0;
                acc += w0 * x0[j];
                acc += w1 * x1[j];
                out[j] = (float) acc;
            }
        }

        @Override
        public void mergeBf16(byte[][] x, int n, byte[] out) {
            byte[] x0 = x[0];
            byte[] x1 = x[1];
            for (int j = 0; j < n; j++) {
                double acc = 0.0;
                acc += w0 * TensorCodec.bf16At(x0, j);
                acc += w1 * TensorCodec.bf16At(x1, j);
                TensorCodec.putBf16(out, j, (float) acc);
            }
        }
    }
}
