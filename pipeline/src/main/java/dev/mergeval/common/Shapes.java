package dev.mergeval.common;

/** Arithmetic on tensor shapes ({@code long[]} dimensions, outermost first). */
public final class Shapes {

    private Shapes() {
    }

    /**
     * The number of elements: the product of the dimensions, 1 for a scalar.
     *
     * @throws ArithmeticException if the product overflows a {@code long}
     */
    public static long numElements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * The bytes of a tensor of {@code shape} with {@code elementBytes}-byte elements.
     *
     * @throws ArithmeticException if the count overflows a {@code long}
     */
    public static long byteCount(long[] shape, int elementBytes) {
        return Math.multiplyExact(numElements(shape), (long) elementBytes);
    }

    /** Elements in one row: the product of all dimensions but the first (1 for scalars and 1-D). */
    public static long rowElements(long[] shape) {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n = Math.multiplyExact(n, shape[i]);
        }
        return n;
    }
}
