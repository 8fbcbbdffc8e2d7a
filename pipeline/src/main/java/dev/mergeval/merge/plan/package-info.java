/**
 * Plan, execute, commit: how a merge config becomes a published checkpoint.
 *
 * <p>The driver {@linkplain MergePlanner plans} from the inputs' headers alone: it checks that the
 * inputs agree, fixes the output layout (shards, byte offsets) and splits the work into
 * {@link WorkUnit}s, each within one layer. A {@link MergeExecutor} runs the units anywhere
 * (threads in this JVM, or Spark executors): each unit reads its tensors' byte ranges, merges them
 * and writes one part file. The {@link MergeCommitter} assembles the shards from the parts and
 * publishes the output atomically. The plan fixes every byte of the output, so the result is the
 * same whatever runs the units.
 */
package dev.mergeval.merge.plan;
