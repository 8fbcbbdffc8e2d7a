package dev.mergeval.merge.methods;

import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reinforced Agent Merging, as mergekit's {@code ram.py}: {@code ram} and its tensor-local
 * {@code ramplus_tl}, one class with a named factory each (they share all but the rescale). On the
 * task vectors {@code d_k = x_k - b} (formed in float) of the non-base models, element {@code i} of
 * {@code d_k} is active when {@code |d_ki| > epsilon} (compared in float, as mergekit's float32
 * tensors), and {@code c_i} counts the models active there:
 * <ul>
 *   <li>{@code ram}: {@code y_i = b_i} where {@code c_i = 0}; {@code b_i + d_ki} of the one active
 *       model where {@code c_i = 1}; {@code b_i + sum_{k active} d_ki / c_i} where {@code c_i > 1};</li>
 *   <li>{@code ramplus_tl}: as {@code ram}, with each model's unique contributions ({@code c_i = 1})
 *       scaled by {@code lambda_k = 1 + r clamp(rho_k, 0, alpha)}, where over this tensor
 *       {@code rho_k = shared_k / max(unique_k, epsilon)}, {@code shared_k} the number of active
 *       elements of model {@code k} with {@code c_i > 1} and {@code unique_k} with {@code c_i = 1}.</li>
 * </ul>
 * Global {@code epsilon} (1e-5), and for {@code ramplus_tl} {@code r} (0.1) and {@code alpha} (0.2).
 * https://arxiv.org/abs/2601.13572
 */
public final class RamMerge implements MergeMethod {
    private final boolean plus;

    private RamMerge(boolean plus) {
        this.plus = plus;
    }

    /** {@code ram}: unique contributions as they are, shared ones averaged. */
    public static RamMerge ram() {
        return new RamMerge(false);
    }

    /** {@code ramplus_tl}: unique contributions rescaled per model by the tensor's shared/unique ratio. */
    public static RamMerge ramPlusTensorLocal() {
        return new RamMerge(true);
    }

    @Override
    public String name() {
        return plus ? "ramplus_tl" : "ram";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2601.13572";
    }

    @Override
    public List<ParamDef> parameters() {
        List<ParamDef> defs = new ArrayList<>();
        if (plus) {
            defs.add(ParamDef.number("r", 0.1));
            defs.add(ParamDef.number("alpha", 0.2));
        }
        defs.add(ParamDef.number("epsilon", 1e-5));
        return defs;
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireBase(config, name());
        if (Rules.others(config) < 1) {
            throw config.error("models", name() + " needs at least one model besides base_model");
        }
    }

    /** {@code ram} is; {@code ramplus_tl} counts over the whole tensor. */
    @Override
    public boolean elementwise(TensorParams params) {
        return !plus;
    }

    /** {@code ramplus_tl}'s counts in one pass over the tensor's chunks, then the merge. */
    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return plus ? new Streamed(params, params.baseIndex()) : null;
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.params(), r.baseIndex()), r.inputs());
    }

    /** {@code ram}'s merge (no pass, every factor 1) into the caller's array; {@code ramplus_tl} has none. */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        if (plus) {
            return null;
        }
        Streamed merge = new Streamed(params, params.baseIndex());
        return (x, n, out) -> merge.merge(x, 0, n, out);
    }

    /**
     * The merge with each model's factor {@code lambda_k} on its unique contributions: 1 for
     * {@code ram}; for {@code ramplus_tl} from the counts of one pass.
     */
    private final class Streamed extends OnePassMerge {
        private final int b;
        private final int[] others;
        private final double epsilon;
        private final float eps;
        private final double r;
        private final double alpha;
        private final long[] shared;
        private final long[] unique;
        private final boolean[] active;
        private final double[] lambda;

        Streamed(TensorParams params, int baseIndex) {
            super(plus);
            b = baseIndex;
            others = Rules.otherIndices(params.perModel().size(), baseIndex);
            int m = others.length;
            epsilon = params.global().number("epsilon");
            eps = (float) epsilon;
            r = plus ? params.global().number("r") : 0;
            alpha = plus ? params.global().number("alpha") : 0;
            shared = new long[m];
            unique = new long[m];
            active = new boolean[m];
            lambda = new double[m];
            Arrays.fill(lambda, 1.0);
        }

        /** Per model, its active elements shared with another model and those it alone changes. */
        @Override
        public void observe(float[][] inputs, long offset, int n) {
            float[] base = inputs[b];
            int m = others.length;
            for (int i = 0; i < n; i++) {
                int count = 0;
                for (int k = 0; k < m; k++) {
                    active[k] = Math.abs(inputs[others[k]][i] - base[i]) > eps;
                    count += active[k] ? 1 : 0;
                }
                for (int k = 0; k < m; k++) {
                    if (active[k]) {
                        shared[k] += count > 1 ? 1 : 0;
                        unique[k] += count == 1 ? 1 : 0;
                    }
                }
            }
        }

        /** {@code lambda_k = 1 + r clamp(shared_k / max(unique_k, epsilon), 0, alpha)}. */
        @Override
        void finish() {
            for (int k = 0; k < others.length; k++) {
                double rho = shared[k] / Math.max((double) unique[k], epsilon);
                lambda[k] = 1 + r * Math.min(alpha, Math.max(0.0, rho));
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            float[] base = inputs[b];
            int m = others.length;
            for (int i = 0; i < n; i++) {
                int count = 0;
                int last = -1;
                double sum = 0;
                for (int k = 0; k < m; k++) {
                    float d = inputs[others[k]][i] - base[i];
                    if (Math.abs(d) > eps) {
                        count++;
                        last = k;
                        sum += d;
                    }
                }
                if (count == 0) {
                    out[i] = base[i];
                } else if (count == 1) {
                    float[] x = inputs[others[last]];
                    out[i] = (float) (base[i] + lambda[last] * (x[i] - base[i]));
                } else {
                    out[i] = (float) (base[i] + sum / count);
                }
            }
        }
    }
}
