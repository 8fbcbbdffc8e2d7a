package dev.mergeval.sweep;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * A finished sweep as every output shows it, derived once from the results: the points in the
 * spec's point order ({@link SweepSpec#inPointOrder}), each with its assessment under the
 * selection rule, the metric columns in one order, the selection, and the method comparison.
 * {@code results.csv}, {@code results.parquet}, {@code summary.json}, {@code report.html} and the
 * console all print this one value, so they cannot disagree on either order.
 *
 * <p>Metric columns: the safety, over-refusal (if any) and task metrics of the spec's roles, then
 * every other measured metric by name.
 *
 * @param spec      the sweep's spec
 * @param selection the recommendation and the goal's status ({@link Selector#select})
 * @param metrics   the metric columns, in order
 * @param rows      one row per point, in point order
 * @param methods   the method comparison ({@link MethodComparison}), in point order of first appearance
 */
public record SweepTable(SweepSpec spec, Selection selection, List<String> metrics, List<Row> rows,
                         List<MethodComparison> methods) {

    /**
     * One point of the table.
     *
     * @param result     its measured metrics
     * @param assessment how it measures against the aligned model and its fine-tune
     * @param chosen     whether it is the recommended point
     */
    public record Row(PointResult result, PointAssessment assessment, boolean chosen) {
        public Row {
            Objects.requireNonNull(result, "result");
            Objects.requireNonNull(assessment, "assessment");
        }

        public SweepPoint point() {
            return result.point();
        }

        /** The point's metrics by name. */
        public Map<String, Metric> metrics() {
            return result.metrics();
        }

        /** The metric's value, NaN when it is absent or had no parseable item. */
        public double value(String metric) {
            return result.value(metric);
        }
    }

    public SweepTable {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(selection, "selection");
        metrics = List.copyOf(metrics);
        rows = List.copyOf(rows);
        methods = List.copyOf(methods);
    }

    /** Selects among {@code results} (in any order) and lays them out in the spec's orders. */
    public static SweepTable of(SweepSpec spec, List<PointResult> results) {
        Selection selection = Selector.select(spec, results);
        String chosen = selection.chosenPoint().id();
        List<Row> rows = new ArrayList<>();
        for (PointResult r : spec.inPointOrder(results)) {
            rows.add(new Row(r, selection.assessments().get(r.point().id()), r.point().id().equals(chosen)));
        }
        return new SweepTable(spec, selection, metricColumns(spec.metrics(), results), rows,
                MethodComparison.of(spec, rows));
    }

    private static List<String> metricColumns(MetricRoles roles, List<PointResult> results) {
        LinkedHashSet<String> names = new LinkedHashSet<>();
        names.add(roles.safety());
        if (roles.overRefusal() != null) {
            names.add(roles.overRefusal());
        }
        names.add(roles.task());
        TreeSet<String> rest = new TreeSet<>();
        results.forEach(r -> rest.addAll(r.metrics().keySet()));
        names.addAll(rest);
        return new ArrayList<>(names);
    }

    /** The results, in point order. */
    public List<PointResult> results() {
        return rows.stream().map(Row::result).toList();
    }

    /** The row of point {@code id}, or null when the sweep has no such point. */
    public Row row(String id) {
        return rows.stream().filter(r -> r.point().id().equals(id)).findFirst().orElse(null);
    }

    /** The aligned model's row, or null when it was not measured. */
    public Row aligned() {
        return rows.stream().filter(r -> r.point().role() == Role.ALIGNED).findFirst().orElse(null);
    }

    /** The row of fine-tune {@code finetuned} itself, or null when it was not measured. */
    public Row finetuned(String finetuned) {
        return rows.stream().filter(r -> r.point().role() == Role.FINETUNED
                && finetuned.equals(r.point().finetuned())).findFirst().orElse(null);
    }

    /**
     * The rows of ratio merges (post-hoc methods left out), grouped by variant, and by fine-tune
     * too when the sweep has several ({@code variant · fine-tune}), in point order.
     */
    public Map<String, List<Row>> ratioSeries() {
        Map<String, List<Row>> groups = new LinkedHashMap<>();
        for (Row r : rows) {
            SweepPoint p = r.point();
            if (p.isMerge() && !p.isPostHoc()) {
                String key = spec.finetuned().size() > 1 ? p.variant() + " · " + p.finetuned() : p.variant();
                groups.computeIfAbsent(key, x -> new ArrayList<>()).add(r);
            }
        }
        return groups;
    }
}
