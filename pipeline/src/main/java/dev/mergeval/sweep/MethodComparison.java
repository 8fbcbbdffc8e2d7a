package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One row of the comparison of safety methods: a method (merges of one method with one fine-tune,
 * a post-hoc method applied to one fine-tune, or a fine-tune itself) and its best point under the
 * spec's selection rule. The report, {@code summary.json} and the console all print these rows.
 *
 * <p>Best point: among the group's points whose refusal rate is within the rule's floor, the one
 * first in {@link Selector}'s order (highest task score, then higher refusal, ...); when none is
 * within the floor, the one with the highest refusal rate (then the selection order). A method
 * reaches the goal when any of its points meets it. The rows come in the point order of the
 * {@link SweepTable} they are part of ({@link SweepTable#methods()}).
 *
 * @param method           the method's name; {@code finetuned} for a fine-tune's own row,
 *                         {@code aligned} for the aligned model's
 * @param finetuned        the fine-tune the group derives from; null for the aligned model
 * @param gainReference    the fine-tune whose task gain {@code taskGainRetention} is a share of
 *                         ({@link SweepSpec#gainReference}): the row's own fine-tune unless the spec
 *                         sets {@code reference_finetuned}; null for the aligned model
 * @param points           how many points the group has
 * @param bestPointId      the best point's id
 * @param bestLabel        the best point's label ({@link SweepPoint#label()})
 * @param withinTolerance  whether the best point is within the refusal floor
 * @param reachesGoal      whether any point of the group meets the goal
 * @param goalPoints       how many points of the group meet the goal
 */
public record MethodComparison(@JsonProperty("method") String method,
                               @JsonProperty("finetuned") String finetuned,
                               @JsonProperty("task_gain_reference") String gainReference,
                               @JsonProperty("points") int points,
                               @JsonProperty("best_point_id") String bestPointId,
                               @JsonProperty("best_label") String bestLabel,
                               @JsonProperty("refusal") double refusal,
                               @JsonProperty("task") double task,
                               @JsonProperty("refusal_retention") double refusalRetention,
                               @JsonProperty("task_gain_retention") double taskGainRetention,
                               @JsonProperty("within_tolerance") boolean withinTolerance,
                               @JsonProperty("reaches_goal") boolean reachesGoal,
                               @JsonProperty("goal_points") int goalPoints) {

    /** The rows, in point order of first appearance: the aligned model, then per fine-tune its row and its methods'. */
    static List<MethodComparison> of(SweepSpec spec, List<SweepTable.Row> table) {
        Map<List<String>, List<SweepTable.Row>> groups = new LinkedHashMap<>();
        for (SweepTable.Row r : table) {
            SweepPoint p = r.point();
            String method = switch (p.role()) {
                case ALIGNED -> "aligned";
                case FINETUNED -> "finetuned";
                case MERGE -> p.method();
            };
            List<String> key = new ArrayList<>();
            key.add(method);
            key.add(p.finetuned());
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
        }
        MetricRoles roles = spec.metrics();
        Comparator<SweepTable.Row> order = Comparator.comparing(SweepTable.Row::result, Selector.order(roles));
        Comparator<SweepTable.Row> safest = Comparator.comparingDouble((SweepTable.Row r) -> {
            double v = r.value(roles.safety());
            return Double.isNaN(v) ? Double.POSITIVE_INFINITY : -v;
        }).thenComparing(order);
        List<MethodComparison> rows = new ArrayList<>();
        groups.forEach((key, members) -> {
            List<SweepTable.Row> within = members.stream().filter(r -> r.assessment().withinTolerance())
                    .sorted(order).toList();
            SweepTable.Row best = within.isEmpty() ? members.stream().sorted(safest).findFirst().orElseThrow()
                    : within.get(0);
            PointAssessment a = best.assessment();
            int meeting = (int) members.stream().filter(r -> r.assessment().meetsGoal()).count();
            String reference = key.get(1) == null ? null : spec.gainReference(key.get(1));
            rows.add(new MethodComparison(key.get(0), key.get(1), reference, members.size(), best.point().id(),
                    best.point().label(), best.value(roles.safety()), best.value(roles.task()),
                    a.refusalRetention(), a.taskGainRetention(), a.withinTolerance(), meeting > 0, meeting));
        });
        return List.copyOf(rows);
    }

    /** The row's name: the method, with its fine-tune in parentheses, e.g. {@code resta (models/ft)}. */
    public String name() {
        return finetuned == null ? method : method + " (" + finetuned + ")";
    }
}
