/**
 * The benchmarks that need no Spark, behind {@code mergeval bench}: merge throughput
 * ({@link dev.mergeval.bench.MergeBenchmark}), merge-on-load against materializing
 * ({@link dev.mergeval.bench.MergeOnLoadBenchmark}), the runtime's tokens per second
 * ({@link dev.mergeval.bench.RuntimeBenchmark}) and SPF's fine-tuning cost
 * ({@link dev.mergeval.bench.FineTuneBenchmark}); synthetic checkpoints for them and for tests.
 * The evaluation benchmark runs on Spark and lives in {@code dev.mergeval.jobs.bench}.
 */
package dev.mergeval.bench;
