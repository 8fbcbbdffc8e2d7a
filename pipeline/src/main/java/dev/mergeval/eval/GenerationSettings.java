package dev.mergeval.eval;

import dev.mergeval.runtime.GenerationParams;
import java.util.List;

/**
 * Decoding settings of a suite task, as written in YAML; absent values take the defaults below
 * (greedy decoding, so evaluation is deterministic unless a temperature is set).
 */
record GenerationSettings(Integer maxNewTokens, Double temperature, Double repetitionPenalty, Integer topK,
                                 Double topP, List<String> stop) {

    public static final GenerationSettings DEFAULT = new GenerationSettings(null, null, null, null, null, null);

    /** The runtime parameters; {@code seed} feeds sampling when temperature > 0. */
    public GenerationParams toParams(long seed) {
        try {
            return params(seed);
        } catch (IllegalArgumentException e) {
            throw new dev.mergeval.common.BadInputException("generation: " + e.getMessage(), e);
        }
    }

    private GenerationParams params(long seed) {
        return new GenerationParams(
                maxNewTokens == null ? GenerationParams.DEFAULT_MAX_NEW_TOKENS : maxNewTokens,
                temperature == null ? 0.0 : temperature,
                topK == null ? 0 : topK,
                topP == null ? 1.0 : topP,
                repetitionPenalty == null ? 1.0 : repetitionPenalty,
                seed,
                stop == null ? List.of() : stop);
    }
}
