package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor: name, element type, shape and its byte span {@code [begin, end)} relative to the
 * start of a safetensors data section (as in the header's {@code data_offsets}). A tensor still to
 * be placed (a planned output, a tensor to write) spans {@code [0, its byte count)}; the
 * {@link ShardLayout} gives it its place. The shape is copied on the way in and out.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) implements Serializable {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new BadInputException("tensor '" + name + "': negative dimension in "
                        + Arrays.toString(shape));
            }
        }
    }

    /** A tensor not yet placed: its span is {@code [0, its byte count)}. */
    public TensorInfo(String name, DType dtype, long[] shape) {
        this(name, dtype, shape, 0, Shapes.byteCount(shape, dtype.byteSize()));
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** One dimension of the shape. */
    public long dim(int i) {
        return shape[i];
    }

    /** Product of the shape (1 for a scalar); the caller's header validation rules out overflow. */
    public long numElements() {
        return Shapes.numElements(shape);
    }

    /** {@code end - begin}. */
    public long byteLength() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && begin == t.begin
                && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
