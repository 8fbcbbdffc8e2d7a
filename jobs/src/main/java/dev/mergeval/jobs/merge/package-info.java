/**
 * The distributed merge on Spark: {@link dev.mergeval.jobs.merge.SparkMergeExecutor} runs the units
 * of a {@link dev.mergeval.merge.plan.MergePlan} as Spark tasks, one partition per unit. Planning and
 * committing stay on the driver, in {@link dev.mergeval.merge.plan.MergeJob}.
 */
package dev.mergeval.jobs.merge;
