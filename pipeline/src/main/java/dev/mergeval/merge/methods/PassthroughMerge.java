package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.TensorParams;
import java.util.List;

/**
 * Passthrough: copies the single input model's tensor, times its optional per-model {@code scale}:
 * {@code y = scale * x}. Exactly one model (and no other base) per merge, or per slice of a
 * {@code slices:} config, where stacking slices of several models makes a "frankenmerge".
 */
public final class PassthroughMerge implements MergeMethod {
    @Override
    public String name() {
        return "passthrough";
    }

    @Override
    public String referenceUrl() {
        return "https://github.com/arcee-ai/mergekit";
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of();
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of(ParamDef.number("scale", null));
    }

    @Override
    public void validate(MergeConfig config) {
        if (config.inputModels().size() != 1) {
            throw config.error("models", "passthrough takes exactly one model (got "
                    + config.inputModels().size() + " including base_model)");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return true;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] x = r.inputs()[0];
        var p = r.params().perModel().get(0);
        if (!p.has("scale")) {
            return x.clone();
        }
        float scale = (float) p.number("scale");
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * scale;
        }
        return out;
    }
}
