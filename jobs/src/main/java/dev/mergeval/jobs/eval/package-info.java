/** Evaluation jobs: loading evaluated and judge models for the {@code judge} and {@code eval} commands. */
package dev.mergeval.jobs.eval;
