/**
 * Checkpoint I/O on the Hadoop FileSystem API ({@code file://}, {@code hdfs://}, {@code s3a://}).
 *
 * <p>Reading: {@link dev.mergeval.checkpoint.SafetensorsHeader} validates a safetensors header
 * before anything is allocated from it; {@link dev.mergeval.checkpoint.Checkpoint#open} resolves
 * the Hugging Face layouts (single file, sharded with an index, PEFT LoRA adapters on a base) and
 * reads tensors by byte range; {@link dev.mergeval.checkpoint.TensorCodec} converts F64/F32/F16/BF16
 * to and from float32.
 *
 * <p>Writing: {@link dev.mergeval.checkpoint.ShardLayout} plans the output shards
 * deterministically, {@link dev.mergeval.checkpoint.SafetensorsWriter} writes whole files,
 * {@link dev.mergeval.checkpoint.OutputPublisher} stages and publishes an output directory
 * atomically, and {@link dev.mergeval.checkpoint.ModelFiles} copies config and tokenizer files.
 *
 * <p>PyTorch pickles are never read: unpickling runs arbitrary code.
 */
package dev.mergeval.checkpoint;
