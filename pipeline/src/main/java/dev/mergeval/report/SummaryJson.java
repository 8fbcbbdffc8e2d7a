package dev.mergeval.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.Mappers;
import dev.mergeval.lora.SweepAdapters;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.GoalStatus;
import dev.mergeval.sweep.MethodComparison;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.PointAssessment;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code summary.json}, for people and schedulers alike, from the {@link SweepTable} (points and
 * methods in its point order, metrics in its metric order):
 * <pre>
 * { "format": "mergeval-sweep-summary/1", "name": ...,
 *   "recommendation": {point_id, label, role, method, finetuned, ratio, parameters, metrics,
 *                      reason, mergekit_yaml (merges only), materialize},
 *   "selection": {rule, tolerance, aligned_refusal, refusal_floor, eligible},
 *   "goal": {state, reached, point_id, point_label, refusal_retention, task_gain_retention,
 *            min_refusal_retention, min_task_gain_retention, chosen_meets_goal, explanation},
 *   "frontier": [point ids by task score],
 *   "methods": [{method, finetuned, task_gain_reference, points, best_point_id, best_label, refusal,
 *                task, refusal_retention, task_gain_retention, within_tolerance, reaches_goal,
 *                goal_points}],
 *   "methods_reaching_goal": ["method (fine-tune)", ...],
 *   "points": [{id, label, role, method, finetuned, ratio, parameters,
 *               metrics: {name: {value, low, high, n, unparseable}}, refusal_retention,
 *               task_gain_retention, within_tolerance, meets_goal, on_frontier, chosen}],
 *   "spec": the spec as parsed, defaults filled in,
 *   "lora_adapters": {dir, list, serve_script} (with the spec's lora_adapters block: where the
 *                    adapters, their list and the vLLM serve command are, relative to the sweep),
 *   "provenance": {@link SweepProvenance}: {spec_hash, started_at, finished_at, duration_seconds,
 *                 spark_master, points_evaluated, points_reused, environment} }
 * </pre>
 * Undefined numbers (NaN) are written as {@code null}.
 */
public final class SummaryJson {
    public static final String FILE = "summary.json";
    public static final String FORMAT = "mergeval-sweep-summary/1";

    static final ObjectMapper JSON = Mappers.SORTED_PRETTY;

    private SummaryJson() {
    }

    public static void write(Path file, SweepTable table, SweepProvenance provenance) {
        write(HadoopFs.local(), HadoopFs.of(file), table, provenance);
    }

    /** Writes {@code file} on {@code fs}. */
    public static void write(FileSystem fs, org.apache.hadoop.fs.Path file, SweepTable table,
            SweepProvenance provenance) {
        try {
            HadoopFs.writeString(fs, file, JSON.writeValueAsString(tree(table, provenance)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    static ObjectNode tree(SweepTable table, SweepProvenance provenance) {
        SweepSpec spec = table.spec();
        Selection selection = table.selection();
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("name", spec.name());
        List<String> metrics = table.metrics();

        PointResult chosen = selection.chosen();
        SweepPoint cp = chosen.point();
        ObjectNode rec = root.putObject("recommendation");
        describe(rec, cp);
        rec.set("metrics", metrics(chosen, metrics));
        rec.put("reason", selection.reason());
        if (cp.isMerge()) {
            rec.put("mergekit_yaml", cp.toMergekitYaml());
        }
        rec.put("materialize", spec.materialize().json());

        ObjectNode sel = root.putObject("selection");
        sel.put("rule", selection.rule());
        sel.put("tolerance", selection.tolerance());
        number(sel, "aligned_refusal", selection.alignedRefusal());
        number(sel, "refusal_floor", selection.refusalFloor());
        sel.put("eligible", selection.eligible());

        GoalStatus g = selection.goal();
        ObjectNode goal = root.putObject("goal");
        goal.put("state", g.state().json());
        goal.put("reached", g.state() == GoalStatus.State.REACHED);
        goal.put("point_id", g.pointId());
        SweepTable.Row at = g.pointId() == null ? null : table.row(g.pointId());
        goal.put("point_label", at == null ? null : at.point().label());
        number(goal, "refusal_retention", g.refusalRetention());
        number(goal, "task_gain_retention", g.taskGainRetention());
        goal.put("min_refusal_retention", g.minRefusalRetention());
        goal.put("min_task_gain_retention", g.minTaskGainRetention());
        goal.put("chosen_meets_goal", g.chosenMeetsGoal());
        goal.put("explanation", g.explanation());

        ArrayNode frontier = root.putArray("frontier");
        selection.frontier().forEach(frontier::add);

        ArrayNode methods = root.putArray("methods");
        ArrayNode reaching = root.putArray("methods_reaching_goal");
        for (MethodComparison m : table.methods()) {
            ObjectNode o = methods.addObject();
            o.put("method", m.method());
            o.put("finetuned", m.finetuned());
            o.put("task_gain_reference", m.gainReference());
            o.put("points", m.points());
            o.put("best_point_id", m.bestPointId());
            o.put("best_label", m.bestLabel());
            number(o, "refusal", m.refusal());
            number(o, "task", m.task());
            number(o, "refusal_retention", m.refusalRetention());
            number(o, "task_gain_retention", m.taskGainRetention());
            o.put("within_tolerance", m.withinTolerance());
            o.put("reaches_goal", m.reachesGoal());
            o.put("goal_points", m.goalPoints());
            if (m.reachesGoal()) {
                reaching.add(m.name());
            }
        }

        ArrayNode points = root.putArray("points");
        for (SweepTable.Row r : table.rows()) {
            ObjectNode o = points.addObject();
            describe(o, r.point());
            o.set("metrics", metrics(r.result(), metrics));
            PointAssessment a = r.assessment();
            number(o, "refusal_retention", a.refusalRetention());
            number(o, "task_gain_retention", a.taskGainRetention());
            o.put("within_tolerance", a.withinTolerance());
            o.put("meets_goal", a.meetsGoal());
            o.put("on_frontier", a.onFrontier());
            o.put("chosen", r.chosen());
        }

        root.set("spec", JSON.valueToTree(spec));
        root.set("provenance", JSON.valueToTree(provenance));
        if (spec.loraAdapters() != null) {
            ObjectNode lora = root.putObject("lora_adapters");
            lora.put("dir", spec.loraAdapters().out());
            lora.put("list", SweepAdapters.LIST_FILE);
            lora.put("serve_script", SweepAdapters.SERVE_SCRIPT);
        }
        return root;
    }

    private static void describe(ObjectNode o, SweepPoint p) {
        o.put("id", p.id());
        o.put("label", p.label());
        o.put("role", p.role().json());
        o.put("method", p.method());
        o.put("finetuned", p.finetuned());
        o.put("ratio", p.ratio());
        o.set("parameters", JSON.valueToTree(p.parameters()));
    }

    private static ObjectNode metrics(PointResult r, List<String> names) {
        ObjectNode out = JSON.createObjectNode();
        for (String name : names) {
            Metric m = r.metrics().get(name);
            if (m == null) {
                continue;
            }
            ObjectNode o = out.putObject(name);
            number(o, "value", m.value());
            o.put("low", m.low());
            o.put("high", m.high());
            o.put("n", m.n());
            o.put("unparseable", m.unparseable());
        }
        return out;
    }

    private static void number(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
    }
}
