/**
 * What a model is made from, as one typed value from the command line to the executors
 * ({@link dev.mergeval.source.ModelSource}: a directory, a base plus a LoRA adapter, a merge
 * evaluated at load), and the one factory that loads, checks and readies each kind
 * ({@link dev.mergeval.source.ModelSources}).
 */
package dev.mergeval.source;
