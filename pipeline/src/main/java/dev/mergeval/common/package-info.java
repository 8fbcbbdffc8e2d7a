/**
 * What every part of Mergeval shares: error kinds, version, progress, and the toolkit (the Jackson
 * mappers, SHA-256, keyed randomness with its one default seed, shape arithmetic, failure unwrapping).
 */
package dev.mergeval.common;
