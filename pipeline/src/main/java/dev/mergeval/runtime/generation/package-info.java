/** Batched decoding (KV cache, left padding, sampling) and batched log-likelihood scoring. */
package dev.mergeval.runtime.generation;
