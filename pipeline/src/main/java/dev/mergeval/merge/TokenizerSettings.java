package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * mergekit's {@code tokenizer:} block beyond its {@code source} ({@code tokenizer/config.py}): tokens
 * the output vocabulary gets if it lacks them, where a listed token's embedding rows come from, and
 * the multiple its rows are padded to. The source itself is {@link MergeConfig#tokenizerSource()}.
 *
 * @param tokens by token, in the order written
 * @param padToMultipleOf the output's rows are rounded up to a multiple of this; 0 for none
 */
public record TokenizerSettings(Map<String, TokenEmbedding> tokens, int padToMultipleOf) implements Serializable {

    public TokenizerSettings {
        tokens = Collections.unmodifiableMap(new LinkedHashMap<>(tokens));
    }

    /** What a {@link TokenEmbedding} takes its row from. */
    public enum Kind {
        /** Zeros ({@code {kind: zero}}). */
        ZERO,
        /** The named model's row of this very token (a model reference as the source). */
        MODEL,
        /** The named model's row of another token, or of a row id ({@code {kind: model_token, ...}}). */
        MODEL_TOKEN
    }

    /**
     * The source of one listed token's embedding rows: models that lack the token take it, and with
     * {@code force} every model does.
     *
     * @param model the model reference, for {@link Kind#MODEL} and {@link Kind#MODEL_TOKEN}; else null
     * @param token the model's token whose row is taken ({@link Kind#MODEL_TOKEN}), or null
     * @param tokenId the model's row taken ({@link Kind#MODEL_TOKEN}), or null
     */
    public record TokenEmbedding(Kind kind, String model, String token, Integer tokenId, boolean force)
            implements Serializable {
        public TokenEmbedding {
            Objects.requireNonNull(kind, "kind");
        }
    }
}
