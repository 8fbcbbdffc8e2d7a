/**
 * The benchmark that needs Spark, behind {@code mergeval bench eval}; the others are in
 * {@code dev.mergeval.bench} of the pipeline module.
 */
package dev.mergeval.jobs.bench;
