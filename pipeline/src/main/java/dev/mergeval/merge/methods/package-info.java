/**
 * The merge methods, one class each, registered by mergekit name in
 * {@link dev.mergeval.merge.MergeMethods}; {@code safe_lora}, {@code resta} and {@code spf_project}
 * are Mergeval's post-hoc safety methods, written as merge methods. All arithmetic runs in double on float inputs and is
 * rounded to float once per output element; task vectors ({@code x - base}) are formed in float,
 * as mergekit does in float32, so magnitude ranking sees the same values.
 */
package dev.mergeval.merge.methods;
