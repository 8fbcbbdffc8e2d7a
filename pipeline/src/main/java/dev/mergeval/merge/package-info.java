/**
 * Merge engine: mergekit-compatible YAML ({@link dev.mergeval.merge.MergeConfig}), per-tensor
 * parameter resolution (gradients over layers, name filters), and {@link
 * dev.mergeval.merge.TensorMerger}, which merges one tensor (or one chunk of an element-wise
 * tensor) given the inputs as {@code float[]}. Methods live in {@code dev.mergeval.merge.methods}
 * and are registered by their mergekit name in {@link dev.mergeval.merge.MergeMethods}.
 */
package dev.mergeval.merge;
