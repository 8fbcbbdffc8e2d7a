package dev.mergeval.merge;

/**
 * The fast path of an element-wise method ({@link MergeMethod#kernel}): merges {@code n} elements
 * of the inputs into the caller's array, so that a merge reuses one output buffer per thread
 * instead of allocating one per chunk. It must give exactly the floats that
 * {@link MergeMethod#merge} gives for the same elements; it sees no extra inputs, offset or seed,
 * so only methods whose element {@code i} depends on nothing but the inputs' element {@code i} and
 * the resolved parameters offer one.
 */
@FunctionalInterface
public interface ElementwiseKernel {

    /**
     * Writes {@code out[0..n)} from {@code inputs[k][0..n)}, the inputs in
     * {@link MergeConfig#inputModels()} order; the arrays may be longer than {@code n}.
     */
    void merge(float[][] inputs, int n, float[] out);
}
