package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.Arrays;
import java.util.List;

/**
 * Karcher (Riemannian, Fréchet) mean of the {@code M} input models on the unit sphere, scaled back,
 * as mergekit's {@code karcher.py}. Every input counts, the base model too (mergekit gathers it like
 * the others and ignores its role), with equal weights {@code a_k = 1 / M}:
 * <ol>
 *   <li>{@code n_k = |x_k|}, {@code u_k = x_k / n_k}; models with {@code n_k <= tol} are left out of
 *       the mean (all left out: the output is zero) and their weights {@code a_k} renormalized over
 *       the rest;</li>
 *   <li>start at {@code u = normalize(sum_k a_k u_k)} ({@code u = u_first} when that norm is below
 *       {@code tol});</li>
 *   <li>up to {@code max_iter} times: {@code theta_k = acos(clamp(u . u_k, -1, 1))},
 *       {@code T = sum_{k: theta_k >= tol} a_k theta_k / sin(theta_k) (u_k - (u . u_k) u)}; stop when
 *       {@code |T| < tol}; else {@code u = cos|T| u + sin|T| T / |T|}, renormalized when
 *       {@code |u| > tol};</li>
 *   <li>{@code y = (sum_k (1 / M) n_k) u}, the weights over all models, zero norms included.</li>
 * </ol>
 * A single model is returned as it is. Every iterate is a linear combination of the inputs, so the
 * iteration runs on their Gram matrix ({@link Gram}), in double, and the output is formed once:
 * streamed, one pass for the matrix and one for the output.
 * Global {@code max_iter} (10, a whole number) and {@code tol} (1e-5).
 * https://en.wikipedia.org/wiki/Karcher_mean
 */
public final class KarcherMerge implements MergeMethod {
    @Override
    public String name() {
        return "karcher";
    }

    @Override
    public String referenceUrl() {
        return "https://en.wikipedia.org/wiki/Karcher_mean";
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.number("max_iter", 10.0), ParamDef.number("tol", 1e-5));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    /** Mergekit's karcher returns a lone tensor. */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return true;
    }

    @Override
    public void validate(MergeConfig config) {
        if (config.parameters().get("max_iter") instanceof Number n && n.doubleValue() != Math.rint(n.doubleValue())) {
            throw config.error("parameters.max_iter", "must be a whole number (got " + n + ")");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params.perModel().size(), Rules.wholeNumber(params, "max_iter"),
                params.global().number("tol"));
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.inputs().length, Rules.wholeNumber(r.params(), "max_iter"),
                r.params().global().number("tol")), r.inputs());
    }

    /** The Gram matrix in one pass, the iteration on it, then the output as one combination of the inputs. */
    private static final class Streamed extends OnePassMerge {
        private final int m;
        private final int maxIter;
        private final double tol;
        private final Gram gram;
        /** The output's coefficients over the inputs; null where the output is zero. */
        private double[] c;

        Streamed(int m, int maxIter, double tol) {
            super(m > 1);
            this.m = m;
            this.maxIter = maxIter;
            this.tol = tol;
            this.gram = m > 1 ? new Gram(m) : null;
        }

        @Override
        public void observe(float[][] inputs, long offset, int n) {
            gram.add(inputs, null, n);
        }

        @Override
        void finish() {
            double[][] g = gram.matrix();
            double[] norms = new double[m];
            double alphaSum = 0;
            for (int k = 0; k < m; k++) {
                norms[k] = Math.sqrt(g[k][k]);
                alphaSum += norms[k] > tol ? 1.0 / m : 0.0;
            }
            if (alphaSum == 0) {
                return;
            }
            // unit[k]: coefficients of u_k; u: coefficients of the current mean, both over the inputs.
            double[][] unit = new double[m][m];
            double[] weight = new double[m];
            int first = -1;
            double[] u = new double[m];
            for (int k = 0; k < m; k++) {
                if (norms[k] > tol) {
                    unit[k][k] = 1.0 / norms[k];
                    weight[k] = (1.0 / m) / alphaSum;
                    u[k] = weight[k] * unit[k][k];
                    first = first < 0 ? k : first;
                }
            }
            double normU = Gram.norm(g, u);
            u = normU < tol ? unit[first].clone() : scaled(u, 1.0 / normU);
            for (int iter = 0; iter < maxIter; iter++) {
                double[] t = new double[m];
                for (int k = 0; k < m; k++) {
                    if (weight[k] == 0) {
                        continue;
                    }
                    double dot = Math.max(-1.0, Math.min(1.0, Gram.dot(g, u, unit[k])));
                    double theta = Math.acos(dot);
                    if (theta < tol) {
                        continue;
                    }
                    double f = weight[k] * theta / Math.sin(theta);
                    for (int j = 0; j < m; j++) {
                        t[j] += f * (unit[k][j] - dot * u[j]);
                    }
                }
                double normT = Gram.norm(g, t);
                if (normT < tol) {
                    break;
                }
                double cos = Math.cos(normT);
                double sin = Math.sin(normT) / normT;
                for (int j = 0; j < m; j++) {
                    u[j] = cos * u[j] + sin * t[j];
                }
                double n = Gram.norm(g, u);
                if (n > tol) {
                    u = scaled(u, 1.0 / n);
                }
            }
            double s = 0;
            for (int k = 0; k < m; k++) {
                s += norms[k] / m;
            }
            c = scaled(u, s);
        }

        @Override
        public void merge(float[][] inputs, long offset, int n, float[] out) {
            requireObserved();
            if (m == 1) {
                System.arraycopy(inputs[0], 0, out, 0, n);
            } else if (c == null) {
                Arrays.fill(out, 0, n, 0f);
            } else {
                Gram.combine(inputs, null, c, n, out);
            }
        }
    }

    private static double[] scaled(double[] c, double f) {
        double[] out = new double[c.length];
        for (int j = 0; j < c.length; j++) {
            out[j] = c[j] * f;
        }
        return out;
    }
}
