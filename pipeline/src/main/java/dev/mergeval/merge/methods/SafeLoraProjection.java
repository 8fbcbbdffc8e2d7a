package dev.mergeval.merge.methods;

/**
 * Safe LoRA's linear algebra ({@link SafeLoraMerge}): the projection {@code P = C dW},
 * {@code C = V V^T / ||V||_F}, of an update {@code dW} onto the alignment matrix {@code V}, and the
 * three sums its cosine with {@code dW} needs, in doubles, each sum in a fixed order whatever the
 * threads: {@link #project} ({@code V (V^T dW)}), {@link #projectViaGram} ({@code (V V^T) dW}, the
 * reference code's association), {@link #projectCheaply} (whichever of the two costs less for the
 * shape, what the analysis and the merge use) and {@link #factorTerms} (from an adapter's factors).
 */
final class SafeLoraProjection {

    /** Columns of {@code dW} per block of {@code V^T dW} ({@link #project}). */
    static final int BLOCK = 64;
    /** Rows of {@code V} and {@code dW} that share one pass over a block ({@link #project}). */
    static final int GROUP = 4;

    private SafeLoraProjection() {
    }

    /**
     * {@code P = V (V^T dW) / vNorm}, one block of {@link #BLOCK} columns at a time (never more
     * than {@code d_in x BLOCK} of {@code V^T dW} in memory). Returns {@code <P, dW>},
     * {@code ||P||^2} and {@code ||dW||^2}; writes {@code out = aligned + P} when {@code out} is given.
     *
     * <p>Every element of {@code V^T dW} is a sum over the rows in ascending order, every element of
     * {@code P} a sum over the columns of {@code V} in ascending order, whatever the grouping below:
     * the bytes are those of the plain triple loop. A term with {@code V = 0} is left out; where
     * {@code V} and {@code dW} are finite it adds a zero to a sum that is never {@code -0} (it starts
     * at {@code +0}), so leaving it in changes nothing, and {@link #GROUP} rows share each pass over
     * the block of {@code V^T dW} (loaded and stored once per four rows of {@code dW}, read once per
     * four rows of {@code P}): 1.5-2.4x faster than a row at a time. A non-finite input takes the
     * row-at-a-time loops, which skip those terms, so {@code 0 * inf} never enters a sum.
     */
    static double[] project(float[] v, float[] dw, int rows, int cols, double vNorm, float[] aligned, float[] out) {
        boolean grouped = Double.isFinite(vNorm) && Double.isFinite(norm(dw));
        double dot = 0;
        double pp = 0;
        double dd = 0;
        double[] m = new double[cols * BLOCK];
        double[] g = new double[GROUP * BLOCK];
        for (int j0 = 0; j0 < cols; j0 += BLOCK) {
            int b = Math.min(BLOCK, cols - j0);
            java.util.Arrays.fill(m, 0);
            int r = 0;
            for (; grouped && r + GROUP <= rows; r += GROUP) {
                accumulateGroup(v, dw, cols, j0, b, r, g, m);
            }
            for (; r < rows; r++) {
                int row = r * cols;
                for (int i = 0; i < cols; i++) {
                    double vri = v[row + i];
                    if (vri != 0) {
                        int mi = i * BLOCK;
                        for (int j = 0; j < b; j++) {
                            m[mi + j] += vri * dw[row + j0 + j];
                        }
                    }
                }
            }
            for (r = 0; r < rows; r += GROUP) {
                int n = Math.min(GROUP, rows - r);
                java.util.Arrays.fill(g, 0);
                if (grouped && n == GROUP) {
                    productGroup(v, m, cols, b, r, g);
                } else {
                    for (int k = 0; k < n; k++) {
                        int row = (r + k) * cols;
                        int gk = k * BLOCK;
                        for (int i = 0; i < cols; i++) {
                            double vri = v[row + i];
                            if (vri != 0) {
                                int mi = i * BLOCK;
                                for (int j = 0; j < b; j++) {
                                    g[gk + j] += vri * m[mi + j];
                                }
                            }
                        }
                    }
                }
                for (int k = 0; k < n; k++) {
                    int row = (r + k) * cols + j0;
                    for (int j = 0; j < b; j++) {
                        double pj = g[k * BLOCK + j] / vNorm;
                        double dj = dw[row + j];
                        dot += pj * dj;
                        pp += pj * pj;
                        dd += dj * dj;
                        if (out != null) {
                            out[row + j] = (float) (aligned[row + j] + pj);
                        }
                    }
                }
            }
        }
        return new double[] {dot, pp, dd};
    }

    /**
     * {@link #project} in whichever association costs less: where {@code V} has fewer rows than
     * columns (k, v and down projections) and every input is finite, {@link #projectViaGram}
     * ({@code 2 d_out^2 d_in} multiply-adds instead of {@code 2 d_out d_in^2}: 2.75x fewer for a
     * 2048 x 5632 down projection), else {@link #project}. The two round differently in the last
     * bits of their double sums; the cosine is rounded to five decimals before anything compares it.
     */
    static double[] projectCheaply(float[] v, float[] dw, int rows, int cols, double vNorm, float[] aligned,
            float[] out) {
        if (rows >= cols || !Double.isFinite(vNorm) || !Double.isFinite(norm(dw))) {
            return project(v, dw, rows, cols, vNorm, aligned, out);
        }
        return projectViaGram(v, dw, rows, cols, vNorm, aligned, out);
    }

    /**
     * {@link #project}'s result in the other association, {@code P = (V V^T) dW / vNorm}, four rows
     * of {@code V V^T} and {@code P} at a time, each sum in a fixed order: every Gram entry over the
     * columns, every element of {@code P} over the rows of {@code dW}, in ascending order.
     */
    private static double[] projectViaGram(float[] v, float[] dw, int rows, int cols, double vNorm, float[] aligned,
            float[] out) {
        double dot = 0;
        double pp = 0;
        double dd = 0;
        double[] gram = new double[GROUP * rows];
        double[] p = new double[GROUP * cols];
        double[] d = new double[cols];
        for (int r = 0; r < rows; r += GROUP) {
            int n = Math.min(GROUP, rows - r);
            java.util.Arrays.fill(p, 0);
            for (int a = 0; a < rows; a++) {
                int row = a * cols;
                for (int j = 0; j < cols; j++) {
                    d[j] = dw[row + j];
                }
                if (n == GROUP) {
                    if (a % 2 == 0) {
                        gramGroup(v, rows, cols, r, a, gram);
                    }
                    double c0 = gram[a];
                    double c1 = gram[rows + a];
                    double c2 = gram[2 * rows + a];
                    double c3 = gram[3 * rows + a];
                    for (int j = 0; j < cols; j++) {
                        double dj = d[j];
                        p[j] += c0 * dj;
                        p[cols + j] += c1 * dj;
                        p[2 * cols + j] += c2 * dj;
                        p[3 * cols + j] += c3 * dj;
                    }
                    continue;
                }
                for (int q = 0; q < n; q++) {
                    double c = dot(v, (r + q) * cols, row, cols);
                    for (int j = 0; j < cols; j++) {
                        p[q * cols + j] += c * d[j];
                    }
                }
            }
            for (int q = 0; q < n; q++) {
                int row = (r + q) * cols;
                for (int j = 0; j < cols; j++) {
                    double pj = p[q * cols + j] / vNorm;
                    double dj = dw[row + j];
                    dot += pj * dj;
                    pp += pj * pj;
                    dd += dj * dj;
                    if (out != null) {
                        out[row + j] = (float) (aligned[row + j] + pj);
                    }
                }
            }
        }
        return new double[] {dot, pp, dd};
    }

    /**
     * {@code gram[q * rows + b] = V[r+q] . V[b]} for the four rows {@code q} and {@code b = a, a+1}
     * (the last row alone where {@code a + 1 = rows}), each sum in column order: eight independent
     * sums, so that no addition waits on the one before it.
     */
    private static void gramGroup(float[] v, int rows, int cols, int r, int a, double[] gram) {
        if (a + 1 == rows) {
            for (int q = 0; q < GROUP; q++) {
                gram[q * rows + a] = dot(v, (r + q) * cols, a * cols, cols);
            }
            return;
        }
        int x0 = r * cols;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        int y0 = a * cols;
        int y1 = y0 + cols;
        double s00 = 0;
        double s01 = 0;
        double s10 = 0;
        double s11 = 0;
        double s20 = 0;
        double s21 = 0;
        double s30 = 0;
        double s31 = 0;
        for (int i = 0; i < cols; i++) {
            double b0 = v[y0 + i];
            double b1 = v[y1 + i];
            double v0 = v[x0 + i];
            double v1 = v[x1 + i];
            double v2 = v[x2 + i];
            double v3 = v[x3 + i];
            s00 += v0 * b0;
            s01 += v0 * b1;
            s10 += v1 * b0;
            s11 += v1 * b1;
            s20 += v2 * b0;
            s21 += v2 * b1;
            s30 += v3 * b0;
            s31 += v3 * b1;
        }
        gram[a] = s00;
        gram[a + 1] = s01;
        gram[rows + a] = s10;
        gram[rows + a + 1] = s11;
        gram[2 * rows + a] = s20;
        gram[2 * rows + a + 1] = s21;
        gram[3 * rows + a] = s30;
        gram[3 * rows + a + 1] = s31;
    }

    /** {@code V[x..x+cols) . V[y..y+cols)}, summed in column order. */
    private static double dot(float[] v, int x, int y, int cols) {
        double s = 0;
        for (int i = 0; i < cols; i++) {
            s += (double) v[x + i] * v[y + i];
        }
        return s;
    }

    /** {@code m += V[r..r+3]^T dW[r..r+3, j0..j0+b)}, the four rows' terms added in row order. */
    static void accumulateGroup(float[] v, float[] dw, int cols, int j0, int b, int r, double[] d, double[] m) {
        for (int k = 0; k < GROUP; k++) {
            int row = (r + k) * cols + j0;
            for (int j = 0; j < b; j++) {
                d[k * BLOCK + j] = dw[row + j];
            }
        }
        int r0 = r * cols;
        int r1 = r0 + cols;
        int r2 = r1 + cols;
        int r3 = r2 + cols;
        for (int i = 0; i < cols; i++) {
            double v0 = v[r0 + i];
            double v1 = v[r1 + i];
            double v2 = v[r2 + i];
            double v3 = v[r3 + i];
            int mi = i * BLOCK;
            for (int j = 0; j < b; j++) {
                double s = m[mi + j];
                s += v0 * d[j];
                s += v1 * d[BLOCK + j];
                s += v2 * d[2 * BLOCK + j];
                s += v3 * d[3 * BLOCK + j];
                m[mi + j] = s;
            }
        }
    }

    /** {@code p[k] = V[r+k] m} for the four rows {@code k}, each row's terms added in column order. */
    static void productGroup(float[] v, double[] m, int cols, int b, int r, double[] p) {
        int r0 = r * cols;
        int r1 = r0 + cols;
        int r2 = r1 + cols;
        int r3 = r2 + cols;
        for (int i = 0; i < cols; i++) {
            double v0 = v[r0 + i];
            double v1 = v[r1 + i];
            double v2 = v[r2 + i];
            double v3 = v[r3 + i];
            int mi = i * BLOCK;
            for (int j = 0; j < b; j++) {
                double mj = m[mi + j];
                p[j] += v0 * mj;
                p[BLOCK + j] += v1 * mj;
                p[2 * BLOCK + j] += v2 * mj;
                p[3 * BLOCK + j] += v3 * mj;
            }
        }
    }

    /**
     * The cosine's terms from an adapter's factors, {@code dW = s L R} ({@code L [rows, r]},
     * {@code R [r, cols]}), as the reference code takes the cosine of a LoRA module (from
     * {@code lora_B} and {@code lora_A}, not from the merged weight): with {@code Z = V (V^T L)}
     * {@code [rows, r]} and {@code G = R R^T},
     * <pre>
     *   &lt;P, dW&gt; = s^2 / n &lt;Z^T L, G&gt;,   ||P||^2 = s^2 / n^2 &lt;Z^T Z, G&gt;,   ||dW||^2 = s^2 &lt;L^T L, G&gt;
     * </pre>
     * ({@code n = ||V||_F}): {@code 2 rows cols r} multiply-adds and {@code O(r^2 (rows + cols))},
     * where the merged weight's cosine costs {@code 2 rows cols min(rows, cols)}. The merged
     * weight of a BF16 or F16 model is rounded to that type, so its {@code dW} differs from
     * {@code s L R} by that rounding; the cosine here has none of it.
     */
    static double[] factorTerms(float[] v, int rows, int cols, double vNorm, float[] left, float[] right, int r,
            double s) {
        double[] y = new double[cols * r];
        for (int row = 0; row < rows; row++) {
            for (int i = 0; i < cols; i++) {
                double vri = v[row * cols + i];
                if (vri != 0) {
                    for (int c = 0; c < r; c++) {
                        y[i * r + c] += vri * left[row * r + c];
                    }
                }
            }
        }
        double[] z = new double[rows * r];
        double[] l = new double[rows * r];
        for (int row = 0; row < rows; row++) {
            for (int i = 0; i < cols; i++) {
                double vri = v[row * cols + i];
                if (vri != 0) {
                    for (int c = 0; c < r; c++) {
                        z[row * r + c] += vri * y[i * r + c];
                    }
                }
            }
            for (int c = 0; c < r; c++) {
                l[row * r + c] = left[row * r + c];
            }
        }
        double[] g = new double[r * r];
        for (int c = 0; c < r; c++) {
            for (int d = 0; d < r; d++) {
                g[c * r + d] = dot(right, c * cols, d * cols, cols);
            }
        }
        double dot = s * s / vNorm * inner(cross(z, l, rows, r), g);
        double pp = s * s / (vNorm * vNorm) * inner(cross(z, z, rows, r), g);
        double dd = s * s * inner(cross(l, l, rows, r), g);
        return new double[] {dot, pp, dd};
    }

    /** {@code X^T Y} of two {@code [n, r]} matrices, each sum in row order. */
    private static double[] cross(double[] x, double[] y, int n, int r) {
        double[] out = new double[r * r];
        for (int row = 0; row < n; row++) {
            for (int c = 0; c < r; c++) {
                double xc = x[row * r + c];
                for (int d = 0; d < r; d++) {
                    out[c * r + d] += xc * y[row * r + d];
                }
            }
        }
        return out;
    }

    /** The Frobenius inner product of two matrices of the same shape. */
    private static double inner(double[] x, double[] y) {
        double s = 0;
        for (int k = 0; k < x.length; k++) {
            s += x[k] * y[k];
        }
        return s;
    }

    /** {@code ||x||}, summed in double in index order. */
    static double norm(float[] x) {
        return Rules.norm(x, 0, x.length, 1);
    }
}
