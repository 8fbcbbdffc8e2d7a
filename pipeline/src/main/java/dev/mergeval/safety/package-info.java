/**
 * Safety-gradient tools shared by SPF fine-tuning and the post-hoc safety methods: the gradient of
 * the refusals' loss, and its low-rank subspace per weight matrix.
 */
package dev.mergeval.safety;
