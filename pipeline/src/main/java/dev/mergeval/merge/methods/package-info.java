/**
 * The merge methods, one class each, registered by mergekit name in
 * {@link dev.mergeval.merge.MergeMethods}. All arithmetic runs in double on float inputs and is
 * rounded to float once per output element; task vectors ({@code x - base}) are formed in float,
 * as mergekit does in float32, so magnitude ranking sees the same values.
 */
package dev.mergeval.merge.methods;
