package dev.mergeval.runtime.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Arrays whose data libtorch allocated, for code that autograd differentiates.
 *
 * <p>DJL's PyTorch engine gives a CPU array created from Java data ({@code create(float[])},
 * {@code set(...)}, and the operand of {@code x.mul(Number)} or {@code x.div(Number)}) storage in a
 * Java direct buffer that only its wrapper keeps alive. {@code x.mul(Number)} closes that wrapper as
 * soon as the product is formed, yet the backward pass of a product or quotient reads the operand
 * again: after a garbage collection in between it reads freed memory, and gradients come out zero or
 * NaN depending on what the collector did. A copy in libtorch's memory is reference-counted by the
 * graph and lives exactly as long as it is needed.
 */
public final class TorchMemory {

    private TorchMemory() {
    }

    /**
     * {@code value} as a 0-dimensional array of the type DJL's {@code create(Number)} gives it (so
     * results are bit-identical to {@code x.mul(value)}), in libtorch's memory, owned by
     * {@code manager}.
     */
    public static NDArray scalar(NDManager manager, Number value) {
        try (NDArray staged = manager.create(value)) {
            return staged.duplicate();
        }
    }

    /** {@code values} in the given shape, in libtorch's memory, owned by {@code manager}. */
    public static NDArray copy(NDManager manager, float[] values, Shape shape) {
        try (NDManager staging = manager.newSubManager()) {
            NDArray copy = staging.create(values, shape).duplicate();
            copy.attach(manager);
            return copy;
        }
    }
}
