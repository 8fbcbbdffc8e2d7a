/**
 * Merge engine: mergekit-compatible YAML ({@link dev.mergeval.merge.MergeConfig}), per-tensor
 * parameter resolution (gradients over layers, name filters), and {@link
 * dev.mergeval.merge.TensorMerger}, which merges one tensor (or one chunk of an element-wise
 * tensor) given the inputs as {@code float[]}. Methods live in {@code dev.mergeval.merge.methods}
 * and are registered by their mergekit name in {@link dev.mergeval.merge.MergeMethods}.
 *
 * <p>Beyond mergekit, for the post-hoc safety methods: extra model inputs named by parameters
 * ({@link dev.mergeval.merge.ParamDef.Kind#MODEL}, opened with the models by
 * {@link dev.mergeval.merge.MergeInputs}) and a plan-time analysis
 * ({@link dev.mergeval.merge.MergeMethod#analyze}, seen through
 * {@link dev.mergeval.merge.AnalysisContext}) whose per-tensor decisions
 * ({@link dev.mergeval.merge.PlanAnalysis}) reach the method with each tensor.
 */
package dev.mergeval.merge;
