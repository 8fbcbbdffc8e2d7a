/** Synthetic checkpoints for tests and benchmarks, and the benchmark harnesses. */
package dev.mergeval.bench;
