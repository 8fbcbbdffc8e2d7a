/**
 * Safety subspaces: where a model's safety lives in weight space, as SPF (arXiv 2601.10141)
 * estimates it from the gradient of a refusal loss, and the conflict-gated projection that keeps
 * weight updates out of it. Used by SPF fine-tuning and by the post-hoc {@code spf_project} merge.
 */
package dev.mergeval.safety;
