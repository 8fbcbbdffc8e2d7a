/**
 * PEFT LoRA adapters made from weights rather than trained: {@link dev.mergeval.lora.LoraExtraction}
 * (mergekit-extract-lora's job: the best rank-R approximation of {@code FT - BASE} per matrix, by
 * truncated SVD, fanned out per tensor on an {@link dev.mergeval.lora.ExtractExecutor}) and
 * {@link dev.mergeval.lora.ScaledAdapter} (an adapter whose update is scaled by a ratio {@code l}, the
 * linear merge at {@code l} as an adapter, for serving a sweep's grid from one multi-LoRA server).
 */
package dev.mergeval.lora;
