package dev.mergeval.report;

import dev.mergeval.sweep.MetricRoles;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.SweepSpec;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.TreeSet;

/**
 * The order of metrics in every output, so the CSV, JSON and HTML agree; the order of points is
 * {@link SweepSpec#inPointOrder}.
 */
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
}
