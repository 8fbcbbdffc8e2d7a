package dev.mergeval.report;

import dev.mergeval.sweep.MetricRoles;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** The order of metrics and points in every output, so the CSV, JSON and HTML agree. */
final class MetricColumns {
    private MetricColumns() {
    }

    /** Safety, over-refusal and task first, then every other measured metric by name. */
    static List<String> metrics(MetricRoles roles, List<PointResult> results) {
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

    /**
     * The results in the spec's point order (expanded with the suite identity the results carry);
     * results of points the spec does not have come last, by id.
     */
    static List<PointResult> sorted(SweepSpec spec, List<PointResult> results) {
        Map<String, Integer> rank = new HashMap<>();
        List<SweepPoint> points = results.isEmpty() ? List.of()
                : spec.points(results.get(0).point().suiteIdentity());
        for (int i = 0; i < points.size(); i++) {
            rank.put(points.get(i).id(), i);
        }
        List<PointResult> out = new ArrayList<>(results);
        out.sort(Comparator.<PointResult>comparingInt(r -> rank.getOrDefault(r.point().id(), Integer.MAX_VALUE))
                .thenComparing(r -> r.point().id()));
        return out;
    }
}
