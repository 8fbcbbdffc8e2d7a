package dev.mergeval.report;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.Format;
import dev.mergeval.sweep.GoalStatus;
import dev.mergeval.sweep.MethodComparison;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.PointAssessment;
import dev.mergeval.sweep.Role;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code report.html}: one self-contained page (inline CSS and SVG; no scripts, fonts or anything
 * fetched) with the recommendation and the goal's status in plain words, the Pareto chart of safety
 * against task score, refusal/over-refusal/task score against the ratio for every method variant,
 * over-refusal across methods, and a table of every point; all of it from one {@link SweepTable}.
 */
public final class ReportHtml {
    public static final String FILE = "report.html";

    private static final String CSS = """
            :root{--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;--bad:#b00020}
            *{box-sizing:border-box}
            body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
            main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
            h1{font-size:26px;margin:0 0 4px}
            h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
            .sub{color:var(--muted);margin:0 0 18px}
            .cards{display:grid;grid-template-columns:1fr 1fr;gap:16px}
            .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px}
            .card h3{margin:0 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
            .big{font-size:20px;font-weight:600;margin:0 0 8px}
            .badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:700;font-size:13px;color:#fff}
            .reached{background:var(--ok)}.not_reached{background:var(--warn)}.undefined{background:#6e7781}
            .nums{display:flex;gap:22px;margin:10px 0 4px;flex-wrap:wrap}
            .num b{display:block;font-size:22px}.num span{color:var(--muted);font-size:13px}
            figure{margin:16px 0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px}
            figure svg{display:block;width:100%;height:auto}
            .panels{display:grid;grid-template-columns:1fr 1fr;gap:16px}
            .panels figure{margin:0}
            table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
            th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:right;white-space:nowrap}
            th{background:#eef1f4;position:sticky;top:0}
            td.l,th.l{text-align:left}
            tr.chosen td{background:#fff4d6;font-weight:600}
            .ci{color:var(--muted);font-size:12px}
            td .ci{display:block;font-size:11px;line-height:1.2}
            td code.ci{font-size:11px}
            .yes{color:var(--ok);font-weight:700}
            code,pre{font:12px/1.45 ui-monospace,"DejaVu Sans Mono",monospace}
            pre{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto}
            .scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
            footer{margin-top:28px;color:var(--muted);font-size:13px}
            @media (max-width:900px){.cards,.panels{grid-template-columns:1fr}}
            """;

    private ReportHtml() {
    }

    public static void write(Path file, SweepTable table, SweepProvenance provenance) {
        write(HadoopFs.local(), HadoopFs.of(file), table, provenance);
    }

    /** Writes {@code file} on {@code fs}. */
    public static void write(FileSystem fs, org.apache.hadoop.fs.Path file, SweepTable table,
            SweepProvenance provenance) {
        HadoopFs.writeString(fs, file, render(table, provenance));
    }

    static String render(SweepTable table, SweepProvenance provenance) {
        SweepSpec spec = table.spec();
        Selection selection = table.selection();
        List<SweepTable.Row> rows = table.rows();
        Html h = new Html();
        h.raw("<!DOCTYPE html>");
        h.open("html", "lang", "en").open("head");
        h.empty("meta", "charset", "utf-8");
        h.empty("meta", "name", "viewport", "content", "width=device-width, initial-scale=1");
        h.element("title", "Mergeval sweep: " + spec.name());
        h.open("style").raw(CSS).close("style");
        h.close("head").open("body").open("main");

        h.element("h1", "Sweep: " + spec.name());
        long postHoc = rows.stream().filter(r -> r.point().isPostHoc()).count();
        long merges = rows.stream().filter(r -> r.point().isMerge()).count() - postHoc;
        h.element("p", String.format(Locale.ROOT, "Aligned model %s, fine-tuned %s. %d points: %d merge%s and %d"
                        + " post-hoc point%s by %s, plus the end points.",
                spec.aligned(), String.join(", ", spec.finetuned()), rows.size(), merges, merges == 1 ? "" : "s",
                postHoc, postHoc == 1 ? "" : "s",
                String.join(", ", spec.grid().stream().map(g -> g.method()).distinct().toList())), "class", "sub");

        recommendation(h, table);

        h.element("h2", "Safety against task score");
        figure(h, Charts.pareto(table));
        methods(h, spec, table.methods());

        h.element("h2", "Against the merge ratio");
        h.element("p", "Each panel is one method variant: refusal of harmful prompts (higher is safer), task score"
                + " (higher is better) and over-refusal of benign prompts (lower is better). Bars are Wilson 95%"
                + " intervals; the dotted line is the selection rule's refusal floor.", "class", "sub");
        h.open("div", "class", "panels");
        SweepTable.Row aligned = table.aligned();
        Map<String, List<SweepTable.Row>> groups = table.ratioSeries();
        Map<String, SweepTable.Row> finetunedOf = new LinkedHashMap<>();
        int k = 0;
        for (Map.Entry<String, List<SweepTable.Row>> e : groups.entrySet()) {
            SweepTable.Row ftResult = table.finetuned(e.getValue().get(0).point().finetuned());
            finetunedOf.put(e.getKey(), ftResult);
            figure(h, Charts.ratioPanel("chart-ratio-" + k++, e.getKey(), spec, e.getValue(), aligned, ftResult,
                    selection));
        }
        h.close("div");
        if (spec.metrics().overRefusal() != null) {
            h.element("h2", "Over-refusal");
            figure(h, Charts.overRefusal(spec, groups, aligned, finetunedOf));
        }

        table(h, table);
        footer(h, spec, provenance);
        h.close("main").close("body").close("html");
        return h.finish();
    }

    private static void recommendation(Html h, SweepTable table) {
        SweepSpec spec = table.spec();
        Selection selection = table.selection();
        SweepPoint chosen = selection.chosenPoint();
        GoalStatus goal = selection.goal();
        h.open("div", "class", "cards");
        h.open("section", "class", "card", "id", "recommendation");
        h.element("h3", "Recommended point");
        h.element("p", chosen.label(), "class", "big");
        h.element("p", selection.reason());
        h.open("div", "class", "nums");
        num(h, Format.rate(selection.chosen().value(spec.metrics().safety())), "refusal rate");
        if (spec.metrics().overRefusal() != null) {
            num(h, Format.rate(selection.chosen().value(spec.metrics().overRefusal())), "over-refusal");
        }
        num(h, Format.rate(selection.chosen().value(spec.metrics().task())), "task score");
        h.close("div");
        h.open("p").text("Point ").element("code", chosen.id()).text(
                chosen.isMerge() ? "; materialize: " + spec.materialize().json() + "." : ".").close("p");
        if (chosen.isMerge()) {
            h.open("details").element("summary", "mergekit config of this point")
                    .element("pre", chosen.toMergekitYaml()).close("details");
        }
        h.close("section");

        h.open("section", "class", "card", "id", "goal");
        h.element("h3", "Goal");
        String badge = switch (goal.state()) {
            case REACHED -> "REACHED";
            case NOT_REACHED -> "NOT REACHED";
            case UNDEFINED -> "UNDEFINED";
        };
        h.open("p", "class", "big").element("span", badge, "class", "badge " + goal.state().json()).close("p");
        h.element("p", goal.explanation());
        h.open("div", "class", "nums");
        num(h, Format.percent(goal.refusalRetention()), "refusal retention (goal ≥ "
                + Format.percent(goal.minRefusalRetention()) + ")");
        num(h, Format.percent(goal.taskGainRetention()), "task gain retention (goal ≥ "
                + Format.percent(goal.minTaskGainRetention()) + ")");
        h.close("div");
        if (goal.pointId() != null) {
            SweepTable.Row at = table.row(goal.pointId());
            String where = at == null ? goal.pointId() : at.point().label();
            h.element("p", (goal.state() == GoalStatus.State.REACHED ? "Measured at " : "Measured at the closest point, ")
                    + where + ".");
        }
        h.element("p", "Refusal retention = refusal(point) / refusal(aligned); task gain retention ="
                + " (task(point) − task(aligned)) / (task(F) − task(aligned)), F being " + gainReference(spec)
                + ".", "class", "ci");
        h.close("section");
        h.close("div");
    }

    private static void num(Html h, String value, String what) {
        h.open("div", "class", "num").element("b", value).element("span", what).close("div");
    }

    /** Whose task gain the task-gain retention is a share of, in words. */
    private static String gainReference(SweepSpec spec) {
        if (spec.referenceFinetuned() != null) {
            return "the reference fine-tune " + spec.referenceFinetuned() + " (reference_finetuned) for every point,"
                    + " fine-tunes included";
        }
        return spec.finetuned().size() > 1 ? "the point's own fine-tune (so a fine-tune's own row is 100% by"
                + " definition; set reference_finetuned in the spec to measure the fine-tunes against one of them)"
                : "the fine-tune";
    }

    /** One row per method (and per fine-tune): its best point under the spec's rule and the goal. */
    private static void methods(Html h, SweepSpec spec, List<MethodComparison> rows) {
        h.element("h2", "Methods compared");
        h.element("p", "For each method, its best point under the selection rule (the highest task score among"
                + " its points within the refusal floor; where none is, its highest-refusal point), the retention"
                + " of the aligned model's refusal rate and of the task gain there, and whether any of its points"
                + " reaches the goal. The task gain retained is a share of the gain of " + gainReference(spec) + ".",
                "class", "sub");
        h.open("div", "class", "scroll").open("table", "id", "methods").open("thead").open("tr");
        h.element("th", "method", "class", "l").element("th", "fine-tune", "class", "l").element("th", "points")
                .element("th", "best point", "class", "l");
        for (String c : List.of("refusal", "task", "refusal retention", "task-gain retention", "within floor",
                "goal")) {
            h.element("th", c);
        }
        h.close("tr").close("thead").open("tbody");
        for (MethodComparison m : rows) {
            h.open("tr", "data-method", m.name(), "data-best-point", m.bestPointId());
            h.element("td", m.method(), "class", "l");
            h.element("td", m.finetuned() == null ? "–" : m.finetuned(), "class", "l");
            h.element("td", Integer.toString(m.points()));
            h.element("td", m.bestLabel(), "class", "l");
            h.element("td", Format.rate(m.refusal()));
            h.element("td", Format.rate(m.task()));
            h.element("td", Format.percent(m.refusalRetention()));
            h.element("td", Format.percent(m.taskGainRetention()));
            h.element("td", m.withinTolerance() ? "yes" : "no");
            h.element("td", m.reachesGoal() ? "reached (" + m.goalPoints() + ")" : "not reached");
            h.close("tr");
        }
        h.close("tbody").close("table").close("div");
    }

    private static void figure(Html h, Charts.Svg chart) {
        h.open("figure", "data-chart", chart.id(), "aria-label", chart.title()).raw(chart.svg()).close("figure");
    }

    private static void table(Html h, SweepTable table) {
        SweepSpec spec = table.spec();
        h.element("h2", "All points");
        h.element("p", "Values with their Wilson 95% intervals; under each point, its id. RR = refusal retention, TGR = task gain retention;"
                + " eligible = refusal rate within the tolerance of the aligned model's; the highlighted row is the"
                + " recommended point.", "class", "sub");
        List<String> metrics = table.metrics();
        h.open("div", "class", "scroll").open("table", "id", "points").open("thead").open("tr");
        h.element("th", "point", "class", "l").element("th", "role", "class", "l").element("th", "ratio");
        for (String m : metrics) {
            h.element("th", m);
        }
        h.element("th", "RR").element("th", "TGR").element("th", "eligible", "title", "refusal rate within the tolerance of the aligned model's").element("th", "frontier")
                .element("th", "goal");
        h.close("tr").close("thead").open("tbody");
        for (SweepTable.Row r : table.rows()) {
            SweepPoint p = r.point();
            PointAssessment a = r.assessment();
            h.open("tr", "class", r.chosen() ? "chosen" : "", "data-point", p.id());
            h.open("td", "class", "l")
                    // A post-hoc point has no ratio: its label carries the knob (resta @ scale=0.1).
                    .text(p.isPostHoc() ? p.label() : p.isMerge() ? p.variant()
                            : p.role() == Role.ALIGNED ? spec.aligned() : p.finetuned())
                    .element("code", p.id(), "class", "ci").close("td");
            h.element("td", p.role().json(), "class", "l");
            h.element("td", p.isMerge() && !p.isPostHoc() ? Format.rate(p.ratio()) : "–");
            for (String m : metrics) {
                Metric v = r.metrics().get(m);
                h.open("td");
                if (v != null) {
                    h.text(Format.rate(v.value())).element("span",
                            "[" + Format.rate(v.low()) + ", " + Format.rate(v.high()) + "]", "class", "ci");
                } else {
                    h.text("n/a");
                }
                h.close("td");
            }
            h.element("td", Format.percent(a.refusalRetention()));
            h.element("td", Format.percent(a.taskGainRetention()));
            mark(h, a.withinTolerance());
            mark(h, a.onFrontier());
            mark(h, a.meetsGoal());
            h.close("tr");
        }
        h.close("tbody").close("table").close("div");
    }

    private static void mark(Html h, boolean yes) {
        h.element("td", yes ? "✓" : "", "class", yes ? "yes" : "");
    }

    private static void footer(Html h, SweepSpec spec, SweepProvenance provenance) {
        h.open("footer");
        StringBuilder versions = new StringBuilder();
        provenance.versions().forEach((k, v) -> versions.append(versions.length() == 0 ? "" : ", ")
                .append(k).append(' ').append(v));
        h.element("p", String.format(Locale.ROOT, "Run %s to %s (%.1f s). Spec hash %s. Seed %d. Selection rule %s, tolerance %s."
                        + " Versions: %s.", provenance.startedAt(), provenance.finishedAt(),
                Duration.between(provenance.startedAt(), provenance.finishedAt()).toMillis() / 1000.0,
                spec.hash().substring(0, 16), spec.seed(), spec.select().rule(), Format.rate(spec.select().tolerance()),
                versions));
        h.element("p", "Generated by Mergeval. The same numbers are in results.csv and summary.json.");
        h.close("footer");
    }
}
