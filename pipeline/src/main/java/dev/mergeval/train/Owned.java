package dev.mergeval.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * DJL gives an op's result to its first operand's manager; an op that starts from a long-lived
 * array (a parameter, a subspace basis) would leave its result there for the whole run. Training
 * code hands such results to the step's scope with {@link #by}.
 */
final class Owned {

    private Owned() {
    }

    /**
     * {@code values} in memory that libtorch allocated, owned by {@code manager}. DJL's
     * {@code create(float[])} and {@code set(float[])} leave a CPU tensor's data in a Java direct
     * buffer that only the wrapper object keeps alive; a tensor trained in place for a whole run
     * belongs in libtorch's memory.
     */
    static NDArray torchCopy(NDManager manager, float[] values, ai.djl.ndarray.types.Shape shape) {
        try (NDManager staging = manager.newSubManager()) {
            NDArray copy = staging.create(values, shape).duplicate();
            copy.attach(manager);
            return copy;
        }
    }

    /** {@code array}, now owned (and freed) by {@code scope}. */
    static NDArray by(NDManager scope, NDArray array) {
        array.attach(scope);
        return array;
    }
}
