/**
 * Merge-ratio sweeps: the {@link dev.mergeval.sweep.SweepSpec} a user writes (aligned model,
 * fine-tuned models, grid of methods and ratios, eval suite, metric roles, selection rule, goal),
 * its deterministic expansion into {@link dev.mergeval.sweep.SweepPoint}s with content-derived ids,
 * the measured {@link dev.mergeval.sweep.PointResult}s, and the choice of the recommended point
 * ({@link dev.mergeval.sweep.Selector}) with the goal's status, laid out once as the
 * {@link dev.mergeval.sweep.SweepTable} every output prints. No Spark here: the sweep job in
 * module {@code jobs} evaluates the points and hands the results to this package, and the table to
 * {@code dev.mergeval.report}.
 */
package dev.mergeval.sweep;
