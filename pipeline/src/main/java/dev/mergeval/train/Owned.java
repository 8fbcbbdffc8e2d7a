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

    /** {@code array}, now owned (and freed) by {@code scope}. */
    static NDArray by(NDManager scope, NDArray array) {
        array.attach(scope);
        return array;
    }
}
