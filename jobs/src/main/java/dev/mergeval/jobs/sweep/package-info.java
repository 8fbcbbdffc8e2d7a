/**
 * {@code mergeval sweep} and {@code mergeval demo}: every point of a merge-ratio grid evaluated on
 * Spark (merge-on-load by default), resumable point by point, with results, a recommendation and
 * a report.
 */
package dev.mergeval.jobs.sweep;
