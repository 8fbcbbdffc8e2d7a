package dev.mergeval.eval;

/**
 * One rate of one model on one task, overall ({@code category = "all"}) or for one category.
 *
 * @param n           items
 * @param unparseable items whose verdict could not be parsed; left out of the rate
 * @param interval    successes / (n - unparseable) with its Wilson 95% interval
 */
public record MetricRow(String model, String task, String metric, String category, long n, long unparseable,
                        RateInterval interval) {

    public static final String ALL = "all";

    public double rate() {
        return interval.rate();
    }
}
