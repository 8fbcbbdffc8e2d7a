/** Tokenization of a Hugging Face model directory through DJL's native HF tokenizers, offline. */
package dev.mergeval.runtime.tokenizer;
