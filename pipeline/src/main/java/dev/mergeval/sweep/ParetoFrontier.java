package dev.mergeval.sweep;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The Pareto frontier of safety (refusal rate, higher is better) against task score (higher is
 * better): the points no other point dominates, where q dominates p if
 * {@code safety(q) >= safety(p)} and {@code task(q) >= task(p)} with one of them strictly greater.
 * Points equal on both stay on the frontier together. Points missing either value take no part.
 */
final class ParetoFrontier {
    private ParetoFrontier() {
    }

    /** The frontier's results, ordered by task score ascending (then safety descending, then id). */
    public static List<PointResult> of(List<PointResult> results, MetricRoles roles) {
        List<PointResult> measured = new ArrayList<>();
        for (PointResult r : results) {
            if (!Double.isNaN(r.value(roles.safety())) && !Double.isNaN(r.value(roles.task()))) {
                measured.add(r);
            }
        }
        List<PointResult> frontier = new ArrayList<>();
        for (PointResult p : measured) {
            double ps = p.value(roles.safety());
            double pt = p.value(roles.task());
            boolean dominated = measured.stream().anyMatch(q -> {
                double qs = q.value(roles.safety());
                double qt = q.value(roles.task());
                return qs >= ps && qt >= pt && (qs > ps || qt > pt);
            });
            if (!dominated) {
                frontier.add(p);
            }
        }
        frontier.sort(Comparator.<PointResult>comparingDouble(r -> r.value(roles.task()))
                .thenComparing(Comparator.<PointResult>comparingDouble(r -> r.value(roles.safety())).reversed())
                .thenComparing(r -> r.point().id()));
        return frontier;
    }
}
