package dev.mergeval.runtime;

/**
 * Total natural-log likelihood of a continuation, its token count and character length, and
 * whether greedy decoding from the context would have produced exactly those tokens.
 */
public record LogLikelihood(double logProb, int tokenCount, int charLength, boolean greedy) {
}
