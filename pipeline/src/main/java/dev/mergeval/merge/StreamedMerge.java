package dev.mergeval.merge;

/**
 * The merge of one tensor that is not element-wise but needs, beyond each element's inputs, only a
 * few statistics of the whole tensor (TIES' magnitude cut, SLERP's norms and inner product) or of
 * its rows (DELLA's ranks): the executor streams the tensor's chunks through {@link #observe} for
 * as many passes as {@link #needsPass} asks, then through {@link #merge}. Memory is a chunk's worth plus the statistics, whatever the tensor's size, and
 * the floats are exactly those of {@link MergeMethod#merge} on the whole tensor.
 *
 * <p>Inputs are the models' chunks in {@link MergeConfig#inputModels()} order, starting at flat
 * element {@code offset}, each at least {@code n} elements long (only the first {@code n} count);
 * every pass, and the merge, visits the chunks once each in ascending order from element 0 and
 * covers the whole tensor. One instance serves one tensor on one thread.
 */
public interface StreamedMerge {

    /**
     * The length of the rows every call must hold whole: each {@link #observe} and {@link #merge}
     * starts at a multiple of it and covers a multiple of it (1, the default: any chunks). DELLA
     * ranks magnitudes within rows.
     */
    default int rowLength() {
        return 1;
    }

    /** True while another pass over the tensor's chunks is needed before {@link #merge}. */
    boolean needsPass();

    /** One chunk of the current pass. */
    void observe(float[][] inputs, long offset, int n);

    /** Ends the current pass, after its last chunk. */
    void endPass();

    /** Writes the merged elements {@code [offset, offset + n)} to {@code out[0..n)}; once {@link #needsPass} is false. */
    void merge(float[][] inputs, long offset, int n, float[] out);

    /**
     * The whole-tensor merge by {@code merge}: every pass, and the merge, over {@code inputs} whole as
     * one chunk. Methods whose {@link MergeMethod#merge} is their streamed merge use this, so that the
     * two cannot differ.
     */
    static float[] whole(StreamedMerge merge, float[][] inputs) {
        int n = inputs[0].length;
        while (merge.needsPass()) {
            merge.observe(inputs, 0, n);
            merge.endPass();
        }
        float[] out = new float[n];
        merge.merge(inputs, 0, n, out);
        return out;
    }
}
