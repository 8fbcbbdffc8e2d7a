/** Throughput benchmark of the runtime against baselines measured in the same run. */
package dev.mergeval.runtime.bench;
