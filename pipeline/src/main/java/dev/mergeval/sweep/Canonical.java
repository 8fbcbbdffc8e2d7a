package dev.mergeval.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Sha256;

/**
 * Canonical JSON (map keys and record properties sorted, no whitespace) and SHA-256 over it, so
 * that equal content gives equal text and equal ids whatever the order it was written in.
 */
final class Canonical {
    static final ObjectMapper JSON = Mappers.CANONICAL;

    private Canonical() {
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    /** Lower-case hex SHA-256 of the UTF-8 bytes of {@code text}. */
    static String sha256(String text) {
        return Sha256.ofText(text);
    }
}
