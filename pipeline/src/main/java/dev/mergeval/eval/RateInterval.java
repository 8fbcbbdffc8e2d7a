package dev.mergeval.eval;

/**
 * A rate with its Wilson score 95% interval (Wilson 1927):
 * <pre>
 *   p = k / n,  z = 1.959964
 *   centre = (p + z²/2n) / (1 + z²/n)
 *   half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)
 *   [low, high] = [centre - half, centre + half]
 * </pre>
 * Unlike the normal approximation it stays inside [0, 1] and is sensible at k = 0 or k = n, which
 * safety rates often are. With n = 0 the rate is NaN and the interval [0, 1].
 *
 * @param successes k
 * @param n         trials
 */
public record RateInterval(long successes, long n, double rate, double low, double high) {

    /** The 0.975 quantile of the standard normal. */
    public static final double Z95 = 1.959963984540054;

    public static RateInterval wilson(long successes, long n) {
        if (successes < 0 || n < 0 || successes > n) {
            throw new IllegalArgumentException("need 0 <= successes <= n, got " + successes + "/" + n);
        }
        if (n == 0) {
            return new RateInterval(0, 0, Double.NaN, 0.0, 1.0);
        }
        double p = (double) successes / n;
        double z2 = Z95 * Z95;
        double denom = 1 + z2 / n;
        double centre = (p + z2 / (2.0 * n)) / denom;
        double half = Z95 / denom * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
        return new RateInterval(successes, n, p, Math.max(0.0, centre - half), Math.min(1.0, centre + half));
    }
}
