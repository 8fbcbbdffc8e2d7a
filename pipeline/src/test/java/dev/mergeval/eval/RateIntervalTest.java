package dev.mergeval.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RateIntervalTest {

    @Test
    void wilsonMatchesPublishedValues() {
        // Reference values: Newcombe (1998), Table I, and the closed form for k = 0.
        RateInterval half = RateInterval.wilson(5, 10);
        assertEquals(0.5, half.rate());
        assertEquals(0.2366, half.low(), 1e-4);
        assertEquals(0.7634, half.high(), 1e-4);
        RateInterval zero = RateInterval.wilson(0, 10);
        assertEquals(0.0, zero.low());
        assertEquals(RateInterval.Z95 * RateInterval.Z95 / (10 + RateInterval.Z95 * RateInterval.Z95), zero.high(), 1e-12);
        RateInterval n15 = RateInterval.wilson(81, 263);
        assertEquals(0.2553, n15.low(), 1e-4);
        assertEquals(0.3662, n15.high(), 1e-4);
        RateInterval all = RateInterval.wilson(20, 20);
        assertEquals(1.0, all.high());
        assertTrue(all.low() < 1.0 && all.low() > 0.8);
        assertTrue(Double.isNaN(RateInterval.wilson(0, 0).rate()));
        assertThrows(IllegalArgumentException.class, () -> RateInterval.wilson(3, 2));
    }
}
