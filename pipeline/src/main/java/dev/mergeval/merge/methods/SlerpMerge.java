package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorParams;
import java.util.List;
import java.util.Optional;

/**
 * Spherical linear interpolation from the base model {@code v0} to the other model {@code v1},
 * over the whole flattened tensor: with {@code u = v / |v|} (when {@code |v| > 1e-8}, else
 * {@code v} itself), {@code d = u0 . u1}; if {@code |d| > 0.9995} the vectors are taken as
 * colinear and {@code y = (1 - t) v0 + t v1}; otherwise {@code theta = acos(d)} and
 * {@code y = sin((1 - t) theta) / sin(theta) * v0 + sin(t theta) / sin(theta) * v1}.
 * Global {@code t} is required. Shoemake, "Animating rotation with quaternion curves" (1985),
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

    @Override
    public void validate(MergeConfig config) {
        Rules.requirePair(config, name());
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] v0 = r.inputs()[r.baseIndex()];
        float[] v1 = r.inputs()[r.baseIndex() == 0 ? 1 : 0];
        double t = r.params().global().number("t");
        int n = v0.length;
        double n0 = Rules.norm(v0, 0, n, 1);
        double n1 = Rules.norm(v1, 0, n, 1);
        double dot = 0;
        for (int i = 0; i < n; i++) {
            dot += (double) v0[i] * v1[i];
        }
        dot /= (n0 > EPS ? n0 : 1.0) * (n1 > EPS ? n1 : 1.0);
        double s0;
        double s1;
        if (Math.abs(dot) > DOT_THRESHOLD) {
            s0 = 1 - t;
            s1 = t;
        } else {
            double theta0 = Math.acos(dot);
            double sinTheta0 = Math.sin(theta0);
            double thetaT = theta0 * t;
            s0 = Math.sin(theta0 - thetaT) / sinTheta0;
            s1 = Math.sin(thetaT) / sinTheta0;
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (s0 * v0[i] + s1 * v1[i]);
        }
        return out;
    }
}
