/**
 * Judges of completions: keyword refusal lists from the literature, Mergeval's own refusal
 * detector, and model judges (Llama Guard 3, WildGuard) run through a
 * {@link dev.mergeval.runtime.LanguageModel}. Each verdict is kept per prompt with the raw judge
 * output so a person can audit it.
 */
package dev.mergeval.eval.judges;
