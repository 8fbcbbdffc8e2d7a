package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.List;
import java.util.Optional;

/**
 * Spherical linear interpolation from the base model {@code v0} to the other model {@code v1},
 * over the whole flattened tensor: with {@code u = v / |v|} (when {@code |v| > 1e-8}, else
 * {@code v} itself), {@code d = u0 . u1}; if {@code |d| > 0.9995} the vectors are taken as
 * colinear and {@code y = (1 - t) v0 + t v1}; otherwise {@code theta = acos(d)} and
 * {@code y = sin((1 - t) theta) / sin(theta) * v0 + sin(t theta) / sin(theta) * v1}.
 * Global {@code t} is required. Streamed: one pass for the norms and the inner product, one for
 * the output. Shoemake, "Animating rotation with quaternion curves" (1985),
 * https://en.wikipedia.org/wiki/Slerp
 */
public final class SlerpMerge implements MergeMethod {
    static final double DOT_THRESHOLD = 0.9995;
    static final double EPS = 1e-8;

    @Override
    public String name() {
        return "slerp";
    }

    @Override
    public String referenceUrl() {
        return "https://en.wikipedia.org/wiki/Slerp";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.interpolation());
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.requiredNumber("t"));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    /** Mergekit's slerp returns a lone tensor before it checks for two models. */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return true;
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requirePair(config, name());
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params.baseIndex(), params.global().number("t"));
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.baseIndex(), r.params().global().number("t")), r.inputs());
    }

    /** The squared norms and the inner product in one pass, then {@code y = s0 v0 + s1 v1}. */
    private static final class Streamed extends OnePassMerge {
        private final int i0;
        private final int i1;
        private final double t;
        private double sq0;
        private double sq1;
        private double dot;
        private double s0;
        private double s1;

        Streamed(int baseIndex, double t) {
            super(true);
            this.i0 = baseIndex;
            this.i1 = baseIndex == 0 ? 1 : 0;
            this.t = t;
        }

        @Override
        public void observe(float[][] inputs, long offset, int n) {
            float[] v0 = inputs[i0];
            float[] v1 = inputs[i1];
            double a = sq0;
            double b = sq1;
            double d = dot;
            for (int i = 0; i < n; i++) {
                a += (double) v0[i] * v0[i];
                b += (double) v1[i] * v1[i];
                d += (double) v0[i] * v1[i];
            }
            sq0 = a;
            sq1 = b;
            dot = d;
        }

        @Override
        void finish() {
            double n0 = Math.sqrt(sq0);
            double n1 = Math.sqrt(sq1);
            double cos = dot / ((n0 > EPS ? n0 : 1.0) * (n1 > EPS ? n1 : 1.0));
            if (Math.abs(cos) > DOT_THRESHOLD) {
                s0 = 1 - t;
                s1 = t;
            } else {
                double theta0 = Math.acos(cos);
                double sinTheta0 = Math.sin(theta0);
                double thetaT = theta0 * t;
                s0 = Math.sin(theta0 - thetaT) / sinTheta0;
                s1 = Math.sin(thetaT) / sinTheta0;
            }
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            float[] v0 = inputs[i0];
            float[] v1 = inputs[i1];
            for (int i = 0; i < n; i++) {
                out[i] = (float) (s0 * v0[i] + s1 * v1[i]);
            }
        }
    }
}
