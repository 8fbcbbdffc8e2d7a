package dev.mergeval.runtime;

import java.util.List;

/**
 * Decoding settings. {@code temperature == 0} is greedy; sampling is seeded per prompt so that the
 * result does not depend on batching.
 */
public record GenerationParams(
        int maxNewTokens,
        double temperature,
        int topK,
        double topP,
        double repetitionPenalty,
        long seed,
        List<String> stopStrings) {

    public static final int DEFAULT_MAX_NEW_TOKENS = 64;

    public GenerationParams {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0 && temperature < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0 && repetitionPenalty < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0 and finite, got " + repetitionPenalty);
        }
        stopStrings = List.copyOf(stopStrings);
        if (stopStrings.contains("")) {
            throw new IllegalArgumentException("stop: an empty stop string would end every completion before its"
                    + " first token");
        }
    }

    public static GenerationParams greedy(int maxNewTokens) {
        return new GenerationParams(maxNewTokens, 0.0, 0, 1.0, 1.0, 0L, List.of());
    }

    public GenerationParams withRepetitionPenalty(double penalty) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, penalty, seed, stopStrings);
    }

    public GenerationParams withStopStrings(List<String> stops) {
        return new GenerationParams(maxNewTokens, temperature, topK, topP, repetitionPenalty, seed, stops);
    }
}
