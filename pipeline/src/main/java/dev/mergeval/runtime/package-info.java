/**
 * The model runtime: Hugging Face Llama-family checkpoints (or merges evaluated at load time) on
 * DJL/PyTorch, batched generation and log-likelihood scoring.
 */
package dev.mergeval.runtime;
