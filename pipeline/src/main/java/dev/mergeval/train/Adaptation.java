package dev.mergeval.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;

/**
 * What a training run changes and how the forward pass sees it: the full weights themselves
 * ({@link FullAdaptation}) or LoRA factors on frozen weights ({@link LoraAdaptation}). The
 * trainer optimizes {@link #optimized()}; SPF guards each of {@link #matrices()} through the
 * matrix update a step makes and projects it via {@link #project}.
 */
public sealed interface Adaptation permits FullAdaptation, LoraAdaptation {

    /** The arrays AdamW updates in place, by optimizer key, in a fixed (sorted) order. */
    Map<String, NDArray> optimized();

    /**
     * The parameters the forward pass reads, by Hugging Face name: differentiable with respect to
     * {@link #optimized()}; new arrays belong to {@code scope}.
     */
    Map<String, NDArray> forwardParams(NDManager scope);

    /** The weight matrices whose updates SPF may project, by Hugging Face name. */
    List<String> matrices();

    /** Copies of {@link #optimized()} before a step, owned by {@code scope}. */
    Map<String, NDArray> snapshot(NDManager scope);

    /** The exact change of weight matrix {@code matrix} since {@code before}, owned by {@code scope}. */
    NDArray matrixUpdate(String matrix, Map<String, NDArray> before, NDManager scope);

    /**
     * Replaces the step on {@code matrix} since {@code before} by one whose matrix update has no
     * component {@code U U^T X V V^T} in the subspace spanned by {@code u} ({@code [rows, k]}) and
     * {@code v} ({@code [cols, k]}), both with orthonormal columns. Temporaries go to {@code scope}.
     */
    void project(String matrix, Map<String, NDArray> before, NDArray u, NDArray v, NDManager scope);

    /**
     * The task gradient of {@code matrix} after a backward pass, when the matrix is trained
     * directly (full training), owned by {@code scope}; null when it is not (LoRA: only factor
     * gradients exist).
     */
    NDArray matrixGradient(String matrix, NDManager scope);
}
