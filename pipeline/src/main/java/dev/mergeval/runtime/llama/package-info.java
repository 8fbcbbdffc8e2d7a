/**
 * The Llama-family transformer (Llama 2/3, Mistral, Qwen2) as a pure function of its parameters,
 * written only with differentiable DJL {@code NDArray} operations, so that the same code serves
 * inference (with a KV cache) and training under a {@code GradientCollector}.
 */
package dev.mergeval.runtime.llama;
