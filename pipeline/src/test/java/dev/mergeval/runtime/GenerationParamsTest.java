package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Decoding settings that cannot decode are refused where they are made. */
class GenerationParamsTest {

    @Test
    void anEmptyStopStringIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GenerationParams.greedy(8).withStopStrings(List.of("Question:", "")));
        assertTrue(e.getMessage().startsWith("stop: an empty stop string"), e.getMessage());
        assertEquals(List.of("Question:"), GenerationParams.greedy(8).withStopStrings(List.of("Question:")).stopStrings());
    }

    @Test
    void infiniteSamplingSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new GenerationParams(8, Double.POSITIVE_INFINITY, 0, 1.0, 1.0, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> GenerationParams.greedy(8).withRepetitionPenalty(Double.POSITIVE_INFINITY));
    }
}
