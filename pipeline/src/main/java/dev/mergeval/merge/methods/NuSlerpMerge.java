package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.Params;
import dev.mergeval.merge.SweepMapping;
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
 * {@code (1 - t) v0 + t v1} where {@code |sin(theta)| < 1e-8}. mergekit's own method,
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
    public float[] merge(MergeRequest r) {
        int b = r.baseIndex();
        int a0 = b == 0 ? 1 : 0;
        int a1 = b >= 0 && b <= 1 ? 2 : 1;
        float[] x0 = r.inputs()[a0];
        float[] x1 = r.inputs()[a1];
        List<Params> pm = r.params().perModel();
        double w0 = pm.get(a0).number("weight");
        double w1 = pm.get(a1).number("weight");
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        int n = r.length();
        float[] base = b >= 0 ? r.inputs()[b] : null;
        float[] v0 = x0;
        float[] v1 = x1;
        if (base != null) {
            v0 = new float[n];
            v1 = new float[n];
            for (int i = 0; i < n; i++) {
                v0[i] = x0[i] - base[i];
                v1[i] = x1[i] - base[i];
            }
        }
        // Vector layout: count vectors of length len; element j of vector c is at c*outer + j*stride.
        long[] shape = r.shape();
        int len;
        int stride;
        int count;
        int outer;
        Params g = r.params().global();
        if (g.bool("nuslerp_flatten") || shape.length <= 1) {
            len = n;
            stride = 1;
            count = 1;
            outer = 0;
        } else if (g.bool("nuslerp_row_wise")) {
            len = (int) shape[0];
            count = n / len;
            stride = count;
            outer = 1;
        } else {
            len = (int) shape[shape.length - 1];
            count = n / len;
            stride = 1;
            outer = len;
        }
        float[] out = new float[n];
        for (int c = 0; c < count; c++) {
            int from = c * outer;
            double n0 = Math.max(Rules.norm(v0, from, len, stride), 1e-7);
            double n1 = Math.max(Rules.norm(v1, from, len, stride), 1e-7);
            double dot = 0;
            for (int j = 0, i = from; j < len; j++, i += stride) {
                dot += (double) v0[i] * v1[i];
            }
            double theta = Math.acos(Math.max(-1.0, Math.min(1.0, dot / (n0 * n1))));
            double sinTheta = Math.sin(theta);
            double s0;
            double s1;
            if (Math.abs(sinTheta) < 1e-8) {
                s0 = 1 - t;
                s1 = t;
            } else {
                s0 = Math.sin((1 - t) * theta) / sinTheta;
                s1 = Math.sin(t * theta) / sinTheta;
            }
            for (int j = 0, i = from; j < len; j++, i += stride) {
                double y = s0 * v0[i] + s1 * v1[i];
                out[i] = (float) (base != null ? base[i] + y : y);
            }
        }
        return out;
    }
}
