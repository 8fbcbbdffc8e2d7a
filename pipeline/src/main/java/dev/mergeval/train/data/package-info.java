/**
 * Chat-format training data as the trainer and the safety gradient both read it: JSONL records, their
 * encoding through the model's chat template into token sequences with the assistant tokens marked,
 * and the negative log-likelihood over those tokens. Its own package so that {@code safety} (which
 * scores refusals) and {@code train} (which guards updates with {@code safety}) share it without a
 * cycle.
 */
package dev.mergeval.train.data;
