package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.eval.MetricRow;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The measured metrics of one sweep point, by metric name (the names {@link MetricRoles} refers to).
 *
 * @param metrics metric name to its value and interval, names sorted
 */
public record PointResult(@JsonProperty("point") SweepPoint point,
                          @JsonProperty("metrics") Map<String, Metric> metrics) {
    public PointResult {
        Objects.requireNonNull(point, "point");
        metrics = Collections.unmodifiableMap(new TreeMap<>(metrics));
    }

    /**
     * The point's result from evaluation metric rows: each overall row ({@code category = all})
     * becomes metric {@code task/metric}, e.g. {@code advbench/refused}; per-category rows are left
     * out. The rows' model column is not checked: pass the rows of this point only.
     */
    public static PointResult fromRows(SweepPoint point, List<MetricRow> rows) {
        Map<String, Metric> metrics = new TreeMap<>();
        for (MetricRow row : rows) {
            if (row.category().equals(MetricRow.ALL)) {
                String name = metricName(row.task(), row.metric());
                if (metrics.put(name, Metric.of(row)) != null) {
                    throw new IllegalArgumentException("two overall rows for metric " + name + " of point " + point.id());
                }
            }
        }
        return new PointResult(point, metrics);
    }

    /** The sweep's name of metric {@code metric} of task {@code task}: {@code task/metric}. */
    public static String metricName(String task, String metric) {
        return task + "/" + metric;
    }

    /** The metric's value, NaN when it is absent or had no parseable item. */
    public double value(String metric) {
        Metric m = metrics.get(metric);
        return m == null ? Double.NaN : m.value();
    }
}
