package dev.mergeval.merge;

/**
 * The fast path of an element-wise method ({@link MergeMethod#kernel}): merges {@code n} elements
 * of the inputs into the caller's array, so that a merge reuses one output buffer per thread
 * instead of allocating one per chunk. It must give exactly the floats that
 * {@link MergeMethod#merge} gives for the same elements; it sees no offset or seed, so only methods
 * whose element {@code i} depends on nothing but the inputs' (and extra inputs') element {@code i}
 * and the resolved parameters offer one.
 */
@FunctionalInterface
public interface ElementwiseKernel {

    /**
     * Writes {@code out[0..n)} from {@code inputs[k][0..n)}: the models in
     * {@link MergeConfig#inputModels()} order, then the extra model inputs the method reads for the
     * tensor ({@link TensorMerger#extrasFor}); the arrays may be longer than {@code n}.
     */
    void merge(float[][] inputs, int n, float[] out);

    /**
     * A kernel that also merges BF16 inputs into a BF16 output straight from and to their stored
     * bytes, in one pass with no float arrays in between: exactly the bytes that decoding, merging
     * and encoding give. The common case of a merge (BF16 checkpoints) then reads each element once.
     */
    interface Bf16 extends ElementwiseKernel {

        /**
         * Writes BF16 elements {@code [0, n)} of {@code out} from elements {@code [0, n)} of each of
         * {@code inputs} (little-endian BF16 bytes, in {@link MergeConfig#inputModels()} order).
         */
        void mergeBf16(byte[][] inputs, int n, byte[] out);
    }
}
