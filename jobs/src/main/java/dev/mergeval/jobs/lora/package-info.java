/**
 * LoRA extraction on Spark: {@link dev.mergeval.jobs.lora.SparkExtractExecutor} runs the per-tensor
 * tasks of a {@link dev.mergeval.lora.ExtractionPlan} as Spark tasks, one partition per tensor;
 * planning and committing stay on the driver, in {@link dev.mergeval.lora.LoraExtraction}.
 */
package dev.mergeval.jobs.lora;
