package dev.mergeval.runtime;

/** Score {@code continuation} given {@code context} (both raw text; BOS added as configured). */
public record LogLikelihoodRequest(String context, String continuation) {
}
