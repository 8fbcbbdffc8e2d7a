package dev.mergeval.merge.methods;

import dev.mergeval.common.Shapes;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.Params;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.List;
import java.util.Optional;

/**
 * NuSLERP: slerp between two models (or, with a base model, between their task vectors
 * {@code v_i = x_i - base}, added back to the base), with {@code t = w1 / (w0 + w1)} from the
 * per-model weights ({@code t = 0.5} when {@code |w0 + w1| < 1e-6}). Vectors are the whole
 * flattened tensor ({@code nuslerp_flatten}, default true), else rows along the last dimension, or,
 * with {@code nuslerp_row_wise}, vectors along dimension 0. Per vector, with
 * {@code u = v / max(|v|, 1e-7)}, {@code theta = acos(clamp(u0 . u1, -1, 1))}:
 * {@code y = (sin((1 - t) theta) v0 + sin(t theta) v1) / sin(theta)}, or
 * {@code (1 - t) v0 + t v1} where {@code |sin(theta)| < 1e-8}. Streamed: one pass for each vector's
 * norms and inner product, one for the output. mergekit's own method,
 * https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md
 */
public final class NuSlerpMerge implements MergeMethod {
    @Override
    public String name() {
        return "nuslerp";
    }

    @Override
    public String referenceUrl() {
        return "https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.weightedPair());
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.bool("nuslerp_row_wise", false), ParamDef.bool("nuslerp_flatten", true));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of(ParamDef.requiredNumber("weight"));
    }

    /** Mergekit's nuslerp returns a lone tensor before its other checks. */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return true;
    }

    @Override
    public void validate(MergeConfig config) {
        if (Rules.others(config) != 2) {
            throw config.error("models", "nuslerp takes exactly two models besides base_model (got "
                    + Rules.others(config) + ")");
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
     * Per vector, the squared norms and the inner product in one pass, then
     * {@code y = s0 v0 + s1 v1} (plus the base) with that vector's factors. Element {@code i} of the
     * flattened tensor belongs to vector {@code (i / outer) % count}: one vector ({@code count} 1),
     * rows along the last dimension ({@code outer} its length), or vectors along dimension 0
     * ({@code outer} 1, {@code count} the other dimensions' product); see {@link VectorRuns}.
     */
    private static final class Streamed extends OnePassMerge {
        private final int b;
        private final int a0;
        private final int a1;
        private final double t;
        private final long outer;
        private final int count;
        private final double[] sq0;
        private final double[] sq1;
        private final double[] dot;
        private final double[] s0;
        private final double[] s1;

        Streamed(TensorParams params, int baseIndex, long[] shape) {
            super(true);
            b = baseIndex;
            a0 = b == 0 ? 1 : 0;
            a1 = b >= 0 && b <= 1 ? 2 : 1;
            List<Params> pm = params.perModel();
            double w0 = pm.get(a0).number("weight");
            double w1 = pm.get(a1).number("weight");
            t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
            long n = Shapes.numElements(shape);
            Params g = params.global();
            if (g.bool("nuslerp_flatten") || shape.length <= 1) {
                outer = Math.max(n, 1);
                count = 1;
            } else if (g.bool("nuslerp_row_wise")) {
                outer = 1;
                count = shape[0] == 0 ? 0 : Math.toIntExact(n / shape[0]);
            } else {
                outer = shape[shape.length - 1];
                count = outer == 0 ? 0 : Math.toIntExact(n / outer);
            }
            sq0 = new double[count];
            sq1 = new double[count];
            dot = new double[count];
            s0 = new double[count];
            s1 = new double[count];
        }

        @Override
        public void observe(float[][] inputs, long offset, int n) {
            float[] x0 = inputs[a0];
            float[] x1 = inputs[a1];
            float[] base = b >= 0 ? inputs[b] : null;
            VectorRuns.forEach(offset, n, outer, count, (from, to, c) -> {
                double a = sq0[c];
                double bb = sq1[c];
                double d = dot[c];
                for (int i = from; i < to; i++) {
                    float v0 = base != null ? x0[i] - base[i] : x0[i];
                    float v1 = base != null ? x1[i] - base[i] : x1[i];
                    a += (double) v0 * v0;
                    bb += (double) v1 * v1;
                    d += (double) v0 * v1;
                }
                sq0[c] = a;
                sq1[c] = bb;
                dot[c] = d;
            });
        }

        @Override
        void finish() {
            for (int c = 0; c < count; c++) {
                double n0 = Math.max(Math.sqrt(sq0[c]), 1e-7);
                double n1 = Math.max(Math.sqrt(sq1[c]), 1e-7);
                double theta = Math.acos(Math.max(-1.0, Math.min(1.0, dot[c] / (n0 * n1))));
                double sinTheta = Math.sin(theta);
                if (Math.abs(sinTheta) < 1e-8) {
                    s0[c] = 1 - t;
                    s1[c] = t;
                } else {
                    s0[c] = Math.sin((1 - t) * theta) / sinTheta;
                    s1[c] = Math.sin(t * theta) / sinTheta;
                }
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            float[] x0 = inputs[a0];
            float[] x1 = inputs[a1];
            float[] base = b >= 0 ? inputs[b] : null;
            VectorRuns.forEach(offset, n, outer, count, (from, to, c) -> {
                double f0 = s0[c];
                double f1 = s1[c];
                for (int i = from; i < to; i++) {
                    float v0 = base != null ? x0[i] - base[i] : x0[i];
                    float v1 = base != null ? x1[i] - base[i] : x1[i];
                    double y = f0 * v0 + f1 * v1;
                    out[i] = (float) (base != null ? base[i] + y : y);
                }
            });
        }
    }
}
