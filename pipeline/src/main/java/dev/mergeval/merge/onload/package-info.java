/**
 * A merge evaluated at load time: the runtime reads a mergekit merge tensor by tensor as if it were
 * written to disk ({@link dev.mergeval.merge.onload.MergedTensorSource}), opened by
 * {@link dev.mergeval.merge.onload.MergeLoader}, with a method's plan-time analysis kept beside the
 * config ({@link dev.mergeval.merge.onload.MergeAnalysisFile}).
 */
package dev.mergeval.merge.onload;
