package dev.mergeval.merge;

import dev.mergeval.common.Shapes;
import java.util.List;
import java.util.Map;

/**
 * Everything a method needs to merge one tensor or chunk: the tensor's name and full shape, the
 * offset of this chunk's first element in the flattened tensor, the random seed, the resolved
 * parameters, the inputs in {@code models} order ({@code baseIndex} is the base model's position,
 * or -1), the same chunk of the extra model inputs the method reads for this tensor (by parameter
 * name, see {@link MergeMethod#readsExtraInput}) and the plan-time analysis' decision for it (or
 * null). All input arrays have the same length.
 */
public record MergeRequest(
        String tensorName,
        long[] shape,
        long elementOffset,
        long seed,
        TensorParams params,
        List<String> models,
        int baseIndex,
        float[][] inputs,
        Map<String, float[]> extras,
        TensorDecision decision) {

    public MergeRequest {
        extras = Map.copyOf(extras);
    }

    /** The chunk of extra model input {@code parameter}. */
    public float[] extra(String parameter) {
        float[] x = extras.get(parameter);
        if (x == null) {
            throw new IllegalStateException(tensorName + ": extra input " + parameter + " was not read");
        }
        return x;
    }

    public int length() {
        return inputs[0].length;
    }

    public long numel() {
        return Shapes.numElements(shape);
    }
}
