/**
 * Fine-tuning Llama-family checkpoints: chat-format JSONL rendered through the model's chat
 * template and tokenizer, the assistant-token loss, AdamW with warm-up and cosine decay, full
 * or LoRA training, and the safety-preserving projection of SPF. {@code mergeval finetune} and
 * {@code mergeval toy-models} both train through this package.
 */
package dev.mergeval.train;
