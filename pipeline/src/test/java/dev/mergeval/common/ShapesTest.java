package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ShapesTest {

    @Test
    void countsElementsBytesAndRows() {
        assertEquals(1, Shapes.numElements(new long[0]));
        assertEquals(24, Shapes.numElements(new long[] {2, 3, 4}));
        assertEquals(0, Shapes.numElements(new long[] {5, 0}));
        assertEquals(48, Shapes.byteCount(new long[] {2, 3, 4}, 2));
        assertEquals(12, Shapes.rowElements(new long[] {2, 3, 4}));
        assertEquals(1, Shapes.rowElements(new long[] {7}));
    }

    @Test
    void overflowIsAnError() {
        assertThrows(ArithmeticException.class, () -> Shapes.numElements(new long[] {1L << 32, 1L << 32}));
        assertThrows(ArithmeticException.class, () -> Shapes.byteCount(new long[] {1L << 31, 1L << 31}, 4));
    }
}
