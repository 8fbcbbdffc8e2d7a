package dev.mergeval.merge.methods;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Multi-SLERP, barycentric interpolation on the hypersphere, as mergekit's {@code multislerp.py}:
 * over the whole flattened tensor, with {@code v_k = x_k - b} for the non-base models when there is
 * a base (else {@code v_k = x_k}) and per-model {@code weight} {@code w_k} (divided by their sum
 * when {@code normalize_weights}, default true):
 * <ol>
 *   <li>{@code n_k = |v_k|}, {@code u_k = v_k / (n_k + eps)};</li>
 *   <li>{@code m = sum_k w_k u_k}; if {@code |m| < eps}: with two models {@code y = w_0 v_0 + w_1 v_1}
 *       (plus {@code b}), with more bad input (antipodal inputs whose weights cancel); else
 *       {@code m := m / |m|};</li>
 *   <li>tangent vectors {@code t_k = u_k - (u_k . m) m}, {@code r = sum_k w_k t_k},
 *       {@code h = |r| + eps};</li>
 *   <li>{@code y = (sum_k w_k n_k) (m cos h + r sin h / h)}, plus {@code b}.</li>
 * </ol>
 * ({@code r} vanishes in exact arithmetic, so {@code y} is the normalized weighted mean of the unit
 * vectors times the weighted mean norm; the steps are kept as mergekit's.) A single non-base model
 * is returned as it is. All vectors are combinations of the {@code v_k}, so the steps run on their
 * Gram matrix ({@link Gram}) in double; streamed, one pass for the matrix and one for the output.
 * Global {@code normalize_weights} (true) and {@code eps} (1e-8); weights summing to zero with
 * {@code normalize_weights} are bad input (mergekit divides by zero). https://goddard.blog/posts/multislerp-wow-what-a-cool-idea
 */
public final class MultiSlerpMerge implements MergeMethod {
    @Override
    public String name() {
        return "multislerp";
    }

    @Override
    public String referenceUrl() {
        return "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.weightedPair());
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.bool("normalize_weights", true), ParamDef.number("eps", 1e-8));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of(ParamDef.requiredNumber("weight"));
    }

    /** Mergekit's multislerp returns a lone tensor that is not the base (the base alone leaves it nothing to stack). */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return config.baseModel().isEmpty();
    }

    @Override
    public void validate(MergeConfig config) {
        if (Rules.others(config) < 1) {
            throw config.error("models", "multislerp needs at least one model besides base_model");
        }
        if (Boolean.FALSE.equals(config.parameters().get("normalize_weights"))) {
            return;
        }
        // Plain numbers are checked here; gradients and filters per tensor, in merge.
        List<Double> weights = new ArrayList<>();
        for (String model : config.inputModels()) {
            if (config.baseModel().map(model::equals).orElse(false)) {
                continue;
            }
            Object w = config.modelParameters(model).getOrDefault("weight", config.parameters().get("weight"));
            if (!(w instanceof Number n)) {
                return;
            }
            weights.add(n.doubleValue());
        }
        if (Rules.sumToZero(weights.stream().mapToDouble(Double::doubleValue).toArray())) {
            throw config.error("models", "multislerp: the models' weights sum to 0, and normalize_weights divides"
                    + " by that sum");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params, params.baseIndex());
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.params(), r.baseIndex()), r.inputs());
    }

    /** The Gram matrix of the {@code v_k} in one pass, the steps on it, then the output as one combination. */
    private static final class Streamed extends OnePassMerge {
        private final String tensor;
        private final int b;
        private final int[] others;
        private final double[] w;
        private final double eps;
        private final Gram gram;
        private final float[][] xs;
        /** The output's coefficients over the {@code v_k}. */
        private double[] c;

        Streamed(TensorParams params, int baseIndex) {
            super(params.perModel().size() - (baseIndex >= 0 ? 1 : 0) > 1);
            tensor = params.tensorName();
            b = baseIndex;
            others = Rules.otherIndices(params.perModel().size(), baseIndex);
            int m = others.length;
            w = new double[m];
            double wSum = 0;
            for (int j = 0; j < m; j++) {
                w[j] = params.perModel().get(others[j]).number("weight");
                wSum += w[j];
            }
            if (m > 1 && params.global().bool("normalize_weights")) {
                if (Rules.sumToZero(w)) {
                    throw new BadInputException(tensor + ": multislerp: the models' weights sum to 0, and"
                            + " normalize_weights divides by that sum");
                }
                for (int j = 0; j < m; j++) {
                    w[j] /= wSum;
                }
            }
            eps = params.global().number("eps");
            gram = m > 1 ? new Gram(m) : null;
            xs = new float[m][];
        }

        private float[][] tunes(float[][] inputs) {
            for (int j = 0; j < others.length; j++) {
                xs[j] = inputs[others[j]];
            }
            return xs;
        }

        @Override
        public void observe(float[][] inputs, long offset, int n) {
            gram.add(tunes(inputs), b >= 0 ? inputs[b] : null, n);
        }

        @Override
        void finish() {
            int m = others.length;
            double[][] g = gram.matrix();
            double[] norms = new double[m];
            double[][] unit = new double[m][m];
            double[] mean = new double[m];
            double avgNorm = 0;
            for (int k = 0; k < m; k++) {
                norms[k] = Math.sqrt(g[k][k]);
                unit[k][k] = 1.0 / (norms[k] + eps);
                mean[k] = w[k] * unit[k][k];
                avgNorm += norms[k] * w[k];
            }
            double meanNorm = Gram.norm(g, mean);
            if (meanNorm < eps) {
                if (m == 2) {
                    c = w;
                    return;
                }
                throw new BadInputException(tensor + ": multislerp: the weighted sum of the models' unit"
                        + " vectors is zero (antipodal models whose weights cancel); use other weights");
            }
            for (int k = 0; k < m; k++) {
                mean[k] /= meanNorm;
            }
            double[] tangent = new double[m];
            for (int k = 0; k < m; k++) {
                double dot = Gram.dot(g, unit[k], mean);
                for (int j = 0; j < m; j++) {
                    tangent[j] += w[k] * (unit[k][j] - dot * mean[j]);
                }
            }
            double h = Gram.norm(g, tangent) + eps;
            double cos = Math.cos(h);
            double sin = Math.sin(h) / h;
            c = new double[m];
            for (int j = 0; j < m; j++) {
                c[j] = avgNorm * (mean[j] * cos + tangent[j] * sin);
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            if (others.length == 1) {
                System.arraycopy(inputs[others[0]], 0, out, 0, n);
            } else {
                Gram.combine(tunes(inputs), b >= 0 ? inputs[b] : null, c, n, out);
            }
        }
    }
}
