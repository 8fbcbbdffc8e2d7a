package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.RateInterval;
import java.util.Objects;

/**
 * One measured metric of one sweep point: a rate with its Wilson 95% interval
 * ({@link RateInterval}), and how many items were left out as unparseable.
 *
 * @param interval    successes / n over the parseable items, with the Wilson interval
 * @param unparseable items whose verdict could not be parsed (not in {@code interval.n()})
 */
public record Metric(@JsonProperty("interval") RateInterval interval,
                     @JsonProperty("unparseable") long unparseable) {
    public Metric {
        Objects.requireNonNull(interval, "interval");
        if (unparseable < 0) {
            throw new IllegalArgumentException("unparseable must be >= 0, got " + unparseable);
        }
    }

    /** {@code successes} of {@code n} parseable items, with {@code unparseable} more left out. */
    public static Metric rate(long successes, long n, long unparseable) {
        return new Metric(RateInterval.wilson(successes, n), unparseable);
    }

    /** The overall rate of an evaluation metrics row. */
    public static Metric of(MetricRow row) {
        return new Metric(row.interval(), row.unparseable());
    }

    /** The rate; NaN when no item was parseable. */
    @JsonIgnore
    public double value() {
        return interval.rate();
    }

    @JsonIgnore
    public double low() {
        return interval.low();
    }

    @JsonIgnore
    public double high() {
        return interval.high();
    }

    /** Parseable items, the rate's denominator. */
    @JsonIgnore
    public long n() {
        return interval.n();
    }
}
