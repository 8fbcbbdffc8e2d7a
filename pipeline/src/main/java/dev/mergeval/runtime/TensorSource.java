package dev.mergeval.runtime;

import java.util.Set;

/**
 * Where a model's parameters come from, tensor by tensor, as float32: a checkpoint on disk, or a
 * merge computed on the fly. The runtime validates names and shapes before reading any data.
 */
public interface TensorSource extends AutoCloseable {

    /** The location, for error messages. */
    String location();

    /** Every tensor name the source holds. */
    Set<String> names();

    /** Shape of a tensor that {@link #names()} lists. */
    long[] shape(String name);

    /** The whole tensor, row-major, decoded to float32. */
    float[] readFloats(String name);

    /**
     * Checks, without reading any weights, the inputs the source reads beyond the headers the
     * runtime validates (a merge's extra models and files); nothing to do for a checkpoint.
     *
     * @throws dev.mergeval.common.BadInputException naming the input
     */
    default void check() {
    }

    @Override
    void close();
}
