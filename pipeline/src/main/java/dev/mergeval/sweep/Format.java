package dev.mergeval.sweep;

import java.util.Locale;

/** Number formats shared by the selection's sentences and the report. */
public final class Format {
    private Format() {
    }

    /** A rate with three decimals; {@code n/a} for NaN. */
    public static String rate(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.3f", v);
    }

    /** A fraction as a percentage with one decimal; {@code n/a} for NaN. */
    public static String percent(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }

    /** {@code value [low, high], n=N}; {@code n/a} when the metric is absent. */
    public static String metric(PointResult r, String name) {
        Metric m = r.metrics().get(name);
        if (m == null) {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%s [%s, %s], n=%d", rate(m.value()), rate(m.low()), rate(m.high()), m.n());
    }
}
