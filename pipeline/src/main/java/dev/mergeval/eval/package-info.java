/**
 * Evaluation: datasets ({@code .datasets}), refusal and harm judges ({@code .judges}), task
 * scorers ({@code .scorers}), per-prompt records, and metrics with Wilson intervals aggregated as
 * zero/reduce/merge/finish so that partitioning never changes a result.
 */
package dev.mergeval.eval;
