package dev.mergeval.merge.methods;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GramTest {

    @Test
    void theMatrixDoesNotDependOnHowTheTensorIsChunked() {
        // Magnitudes over 16 decades: every regrouping of the double sums changes their low bits.
        Random rnd = new Random(3);
        int n = 10_007;
        float[][] xs = new float[3][n];
        float[] base = new float[n];
        for (int i = 0; i < n; i++) {
            base[i] = (float) rnd.nextGaussian();
            for (float[] x : xs) {
                x[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(16) - 8));
            }
        }
        for (float[] b : new float[][] {null, base}) {
            double[][] whole = matrix(xs, b, n);
            for (int chunk : new int[] {1, 1000, 1024, 3001}) {
                double[][] chunked = matrix(xs, b, chunk);
                for (int k = 0; k < 3; k++) {
                    assertEquals(Arrays.toString(whole[k]), Arrays.toString(chunked[k]), "chunk " + chunk);
                }
            }
        }
    }

    private static double[][] matrix(float[][] xs, float[] base, int chunk) {
        Gram gram = new Gram(xs.length);
        int n = xs[0].length;
        for (int off = 0; off < n; off += chunk) {
            int len = Math.min(chunk, n - off);
            float[][] part = new float[xs.length][];
            for (int k = 0; k < xs.length; k++) {
                part[k] = Arrays.copyOfRange(xs[k], off, off + len);
            }
            gram.add(part, base == null ? null : Arrays.copyOfRange(base, off, off + len), len);
        }
        return gram.matrix();
    }
}
