package dev.mergeval.common;

/**
 * Arithmetic on tensor shapes ({@code long[]} dimensions, outermost first), a matrix's transpose and
 * an element-wise difference.
 */
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

    /** The transpose {@code [cols, rows]} of the row-major {@code rows x cols} matrix {@code m}. */
    public static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = m[i * cols + j];
            }
        }
        return t;
    }

    /** {@code x - y} element by element, formed in float32. */
    public static float[] difference(float[] x, float[] y) {
        float[] d = new float[x.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = x[i] - y[i];
        }
        return d;
    }
}
