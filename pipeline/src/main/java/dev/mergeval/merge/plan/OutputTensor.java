package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Shapes;
import java.io.Serializable;
import java.util.Arrays;

/**
 * A tensor of the output checkpoint.
 *
 * @param spec name (as in the inputs), output dtype and shape
 * @param merged true when the merge method computes it; false when it is carried through unchanged
 *     from its first input (for a {@code models:} config, {@link MergePlan#copySource()}): integer
 *     tensors, and FP8 ones under passthrough ({@link MergePlanner#checkQuantized})
 */
record OutputTensor(TensorInfo spec, boolean merged) implements Serializable {

    public OutputTensor(String name, DType dtype, long[] shape, boolean merged) {
        this(new TensorInfo(name, dtype, shape), merged);
    }

    public String name() {
        return spec.name();
    }

    public DType dtype() {
        return spec.dtype();
    }

    public long[] shape() {
        return spec.shape();
    }

    public long numElements() {
        return spec.numElements();
    }

    public long byteLength() {
        return spec.byteLength();
    }

    /** Elements in one row (the product of all dimensions but the first; 1 for scalars and 1-D). */
    public long rowElements() {
        return Shapes.rowElements(spec.shape());
    }

    /** Name, dtype and shape (no byte span): this text enters the plan id, so it must not change. */
    @Override
    public String toString() {
        return spec.name() + " " + spec.dtype() + Arrays.toString(spec.shape()) + (merged ? "" : " (copied)");
    }
}
