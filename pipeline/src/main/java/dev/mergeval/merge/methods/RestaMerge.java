package dev.mergeval.merge.methods;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.Params;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.SweepMapping.Knob;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.List;
import java.util.Optional;

/**
 * RESTA, restoring safety by adding a safety vector back (Bhardwaj et al., ACL 2024,
 * https://arxiv.org/abs/2402.11746): with {@code base_model} the aligned model, the one other model
 * the fine-tune and {@code parameters.unaligned_model} a model without the alignment, every tensor
 * becomes
 * <pre>
 *   y = W_post + scale * m * (W_aligned - W_unaligned)
 * </pre>
 * with the safety vector {@code W_aligned - W_unaligned} formed in float. With {@code density < 1}
 * the vector is first sparsified by DARE: element {@code i} is kept when
 * {@code u(seed, tensor, aligned model, i) < density} (the counter-based stream of
 * {@link KeyedRandom}, so chunking and placement cannot change it) and kept elements are divided
 * by {@code density}, i.e. {@code m_i = keep_i / density}; with {@code density >= 1},
 * {@code m_i = 1}. {@code scale} (default 1, the paper's) and {@code density} (default 1) may be
 * gradients or filter lists like any global parameter.
 *
 * <p>The double-counting trap: in the paper the unaligned model is a harmful fine-tune of the
 * aligned one, so the safety vector is what harmful training removes. With the pre-alignment base
 * instead, the vector holds the whole alignment (chat format, refusals), which {@code W_post}
 * already contains: it is counted twice, and small models break at {@code scale = 1} (the toy pair
 * drops to no task skill and no refusals). Sweep {@code scale} well below 1 in that setting.
 */
public final class RestaMerge implements MergeMethod {

    @Override
    public String name() {
        return "resta";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2402.11746";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.postHoc(Knob.of("scale")));
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.requiredModel("unaligned_model"), ParamDef.number("scale", 1.0),
                ParamDef.number("density", 1.0));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireFineTune(config, name());
        if (config.parameters().get("density") instanceof Number d && (d.doubleValue() < 0 || d.doubleValue() > 1)) {
            throw config.error("parameters.density", "must be in [0, 1] (got " + d + ")");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return true;
    }

    /**
     * The safety vector kept whole (density 1, the default), into the caller's array: {@link #merge}'s
     * floats, as a mask that keeps every element has factor 1. Its draws, keyed by the element's
     * offset, keep {@link #merge}.
     */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        Params p = params.global();
        if (p.number("density") != 1) {
            return null;
        }
        double scale = p.number("scale");
        int alignedIndex = params.baseIndex();
        int postIndex = Rules.fineTuneIndex(alignedIndex);
        int unalignedIndex = params.perModel().size();
        return (x, n, out) -> {
            float[] aligned = x[alignedIndex];
            float[] post = x[postIndex];
            float[] unaligned = x[unalignedIndex];
            for (int i = 0; i < n; i++) {
                float safety = aligned[i] - unaligned[i];
                out[i] = (float) (post[i] + scale * safety);
            }
        };
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] aligned = r.inputs()[r.baseIndex()];
        float[] post = r.inputs()[Rules.fineTuneIndex(r)];
        float[] unaligned = r.extra("unaligned_model");
        Params p = r.params().global();
        double scale = p.number("scale");
        double density = p.number("density");
        if (density < 0 || density > 1) {
            throw new BadInputException(r.tensorName() + ": parameters.density must be in [0, 1] (got " + density + ")");
        }
        KeepMask mask = Sparsifier.random(aligned, unaligned, density, Sparsifier.RescaleMode.INVERSE_DENSITY,
                KeyedRandom.counterKey(r.seed(), r.tensorName(), r.baseIndex()), r.elementOffset());
        float[] out = new float[post.length];
        for (int i = 0; i < out.length; i++) {
            float safety = aligned[i] - unaligned[i];
            out[i] = (float) (post[i] + scale * mask.factor(i) * safety);
        }
        return out;
    }
}
