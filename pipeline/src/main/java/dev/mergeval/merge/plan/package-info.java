/**
 * Plan, execute, commit: how a merge config becomes a published checkpoint.
 *
 * <p>The driver {@linkplain MergePlanner plans} from the inputs' headers alone: it checks that the
 * inputs agree, fixes the output layout (shards, byte offsets) and splits the work into
 * {@link WorkUnit}s, each within one layer. A {@link MergeExecutor} runs the units anywhere
 * (threads in this JVM, or Spark executors): each unit reads its tensors' byte ranges, merges them
 * and writes its bytes. On the local filesystem (NFS included) the shards are created up front and
 * units write straight into them at their planned offsets ({@link InPlaceShards}), so the output
 * is written once; on HDFS and object stores each unit writes a part file and the
 * {@link MergeCommitter} assembles the shards from the parts. The committer hashes the shards and
 * the job publishes the output atomically. The plan fixes every byte of the output, so the result
 * is the same whatever runs the units and whichever path writes them.
 */
package dev.mergeval.merge.plan;
