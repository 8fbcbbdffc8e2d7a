/**
 * What every part of Mergeval shares: error kinds, version, progress, and the toolkit (the Jackson
 * mappers, SHA-256, keyed randomness with its one default seed, shape arithmetic, failure unwrapping, ordered fan-out over a thread pool).
 */
package dev.mergeval.common;
