package dev.mergeval.merge.methods;

import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.SweepMapping.Knob;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.List;
import java.util.Optional;

/**
 * NearSwap, as mergekit's {@code nearswap.py}: per element, with {@code a} the base model and
 * {@code b} the one other model, {@code w = clamp(t / max(|a - b|, 1e-6), 0, 1)} and
 * {@code y = w b + (1 - w) a}: where the models are within {@code t} of each other the other
 * model's value is taken, farther apart the base's dominates. {@code t = 0} (or negative) gives the
 * base, {@code t >= max |a - b|} the other model. Global {@code t} is required.
 * https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001
 *
 * <p>In a sweep it is applied to the whole fine-tune like the post-hoc methods, its knob {@code t}
 * listed: a ratio in [0, 1] would not fit, as {@code t} is a distance in weight units (mergekit's
 * example uses 1e-4).
 */
public final class NearSwapMerge implements MergeMethod {
    @Override
    public String name() {
        return "nearswap";
    }

    @Override
    public String referenceUrl() {
        return "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.postHoc(Knob.of("t")));
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
        return true;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] out = new float[r.length()];
        kernel(r.params(), r.decision()).merge(r.inputs(), out.length, out);
        return out;
    }

    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        int base = params.baseIndex();
        int other = Rules.fineTuneIndex(base);
        double t = params.global().number("t");
        return (x, n, out) -> {
            float[] a = x[base];
            float[] b = x[other];
            for (int i = 0; i < n; i++) {
                double w = Math.min(1.0, Math.max(0.0, t / Math.max(Math.abs(a[i] - b[i]), 1e-6f)));
                out[i] = (float) (w * b[i] + (1 - w) * a[i]);
            }
        };
    }
}
