package dev.mergeval.merge;

import java.util.List;

/**
 * Everything a method needs to merge one tensor or chunk: the tensor's name and full shape, the
 * offset of this chunk's first element in the flattened tensor, the random seed, the resolved
 * parameters, and the inputs in {@code models} order ({@code baseIndex} is the base model's
 * position, or -1). All input arrays have the same length.
 */
public record MergeRequest(
        String tensorName,
        long[] shape,
        long elementOffset,
        long seed,
        TensorParams params,
        List<String> models,
        int baseIndex,
        float[][] inputs) {

    public int length() {
        return inputs[0].length;
    }

    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }
}
