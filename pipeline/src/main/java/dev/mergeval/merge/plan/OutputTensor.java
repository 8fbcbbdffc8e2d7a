package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.DType;
import java.io.Serializable;
import java.util.Arrays;

/**
 * A tensor of the output checkpoint.
 *
 * @param name tensor name, as in the inputs
 * @param dtype the output dtype
 * @param shape the shape, as in the inputs
 * @param merged true when the merge method computes it; false when it is carried through unchanged
 *     from {@link MergePlan#copySource()} (integer and FP8 tensors)
 */
public record OutputTensor(String name, DType dtype, long[] shape, boolean merged) implements Serializable {
    public OutputTensor {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long numElements() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteLength() {
        return Math.multiplyExact(numElements(), dtype.byteSize());
    }

    /** Elements in one row (the product of all dimensions but the first; 1 for scalars and 1-D). */
    public long rowElements() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OutputTensor t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && merged == t.merged;
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + (merged ? "" : " (copied)");
    }
}
