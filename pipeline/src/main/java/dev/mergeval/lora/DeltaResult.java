package dev.mergeval.lora;

import java.io.Serializable;

/**
 * What one tensor's task found: whether {@code D = FT - BASE} is non-zero, its norm and, for a
 * decomposed matrix, the factors {@code a [rank, cols]} and {@code b [rows, rank]} (float32,
 * row-major) with {@code b @ a ~ D}, and their relative Frobenius error.
 *
 * @param svd {@code exact} or {@code randomized}; null where nothing was decomposed
 */
public record DeltaResult(String tensor, boolean lora, boolean differs, double deltaNorm, int rank, String svd,
        float[] a, float[] b, double relativeError) implements Serializable {

    private static final long serialVersionUID = 1L;

    /** A tensor compared but not decomposed (kept whole if it differs, or a matrix equal in both). */
    static DeltaResult compared(String tensor, boolean lora, boolean differs, double deltaNorm) {
        return new DeltaResult(tensor, lora, differs, deltaNorm, 0, null, null, null, 0);
    }

    /** Whether this is a decomposed matrix that goes into the adapter as LoRA factors. */
    public boolean decomposed() {
        return lora && differs;
    }
}
