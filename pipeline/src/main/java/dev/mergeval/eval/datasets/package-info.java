/**
 * Loaders for the evaluation datasets in their published formats. Each loader returns a
 * {@link dev.mergeval.eval.datasets.Dataset} of {@link dev.mergeval.eval.datasets.EvalExample}s and
 * rejects a malformed row with a {@link dev.mergeval.common.BadInputException} naming the file,
 * the line and the reason.
 */
package dev.mergeval.eval.datasets;
