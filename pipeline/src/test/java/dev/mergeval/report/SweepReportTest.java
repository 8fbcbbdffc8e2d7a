package dev.mergeval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.MethodComparison;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepReportTest {

    @Test
    void resultsCsvHasOneRowPerPointWithEveryMetricAndInterval(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<PointResult> results = new ArrayList<>(SweepFixture.results(spec));
        Collections.shuffle(results, new java.util.Random(3));
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));

        List<String[]> rows = readCsv(dir.resolve("results.csv"));
        List<String> header = List.of(rows.get(0));
        assertEquals(List.of("point_id", "role", "method", "finetuned", "ratio", "parameters",
                "harmful/refused", "harmful/refused_low", "harmful/refused_high", "harmful/refused_n",
                "harmful/refused_unparseable", "borderline/refused", "borderline/refused_low",
                "borderline/refused_high", "borderline/refused_n", "borderline/refused_unparseable",
                "task/correct", "task/correct_low", "task/correct_high", "task/correct_n", "task/correct_unparseable"),
                header);
        List<SweepPoint> points = spec.points();
        assertEquals(points.size() + 1, rows.size());
        Map<String, PointResult> byId = new HashMap<>();
        results.forEach(r -> byId.put(r.point().id(), r));
        for (int i = 0; i < points.size(); i++) {
            String[] row = rows.get(i + 1);
            SweepPoint p = points.get(i);
            assertEquals(p.id(), row[0], "rows follow the spec's point order");
            assertEquals(p.role().json(), row[1]);
            assertEquals(p.method() == null ? "" : p.method(), row[2]);
            assertEquals(p.ratio(), Double.parseDouble(row[4]));
            Metric task = byId.get(p.id()).metrics().get(SweepFixture.TASK);
            int c = header.indexOf("task/correct");
            assertEquals(task.value(), Double.parseDouble(row[c]));
            assertEquals(task.low(), Double.parseDouble(row[c + 1]));
            assertEquals(task.high(), Double.parseDouble(row[c + 2]));
            assertEquals(task.n(), Long.parseLong(row[c + 3]));
            assertEquals(task.unparseable(), Long.parseLong(row[c + 4]));
            assertTrue(task.low() <= task.value() && task.value() <= task.high());
        }
        String[] ties = rows.stream().filter(r -> r[2].equals("ties")).findFirst().orElseThrow();
        assertEquals("{\"density\":0.3}", ties[5]);
    }

    @Test
    void rowsFollowTheSpecOrderWhateverTheSuiteIdentity(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<SweepPoint> points = spec.points("sha256:0123", Map.of());
        List<PointResult> results = new ArrayList<>();
        for (PointResult r : SweepFixture.results(spec)) {
            SweepPoint p = points.get(results.size());
            results.add(new PointResult(p, r.metrics()));
        }
        Collections.reverse(results);
        ResultsCsv.write(dir.resolve("r.csv"), SweepTable.of(spec, results));
        List<String[]> rows = readCsv(dir.resolve("r.csv"));
        for (int i = 0; i < points.size(); i++) {
            assertEquals(points.get(i).id(), rows.get(i + 1)[0]);
        }
    }

    @Test
    void csvQuotesFieldsWithCommasAndQuotes(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec("odd", "models/with,comma \"and quotes\"");
        List<PointResult> results = SweepFixture.results(spec);
        ResultsCsv.write(dir.resolve("r.csv"), SweepTable.of(spec, results));
        List<String[]> rows = readCsv(dir.resolve("r.csv"));
        assertEquals(spec.points().size() + 1, rows.size());
        assertTrue(rows.stream().allMatch(r -> r.length == rows.get(0).length));
        // Only where RFC 4180 needs it: not a header field for being long (harmful/refused_unparseable).
        String header = Files.readAllLines(dir.resolve("r.csv")).get(0);
        assertTrue(header.contains(",harmful/refused_unparseable,") && !header.contains("\""), header);
        assertTrue(Files.readString(dir.resolve("r.csv")).contains(",\"{\"\"density\"\":0.3}\","), "JSON is quoted");
    }

    @Test
    void summaryJsonStatesTheRecommendationGoalAndEveryPoint(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<PointResult> results = SweepFixture.results(spec);
        SweepTable table = SweepTable.of(spec, results);
        Selection s = table.selection();
        SweepReport.write(dir, table, SweepFixture.provenance(spec));
        JsonNode root = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());

        assertEquals(SummaryJson.FORMAT, root.get("format").asText());
        JsonNode rec = root.get("recommendation");
        assertEquals(s.chosenPoint().id(), rec.get("id").asText());
        assertEquals(s.reason(), rec.get("reason").asText());
        assertEquals(s.chosen().value(SweepFixture.TASK), rec.at("/metrics/task~1correct/value").asDouble());
        if (s.chosenPoint().isMerge()) {
            assertEquals(s.chosenPoint().toMergekitYaml(), rec.get("mergekit_yaml").asText());
        }

        JsonNode goal = root.get("goal");
        assertEquals(s.goal().state().json(), goal.get("state").asText());
        assertEquals(s.goal().state() == dev.mergeval.sweep.GoalStatus.State.REACHED, goal.get("reached").asBoolean());
        assertEquals(s.goal().pointId(), goal.get("point_id").asText());
        // The goal's ratios recomputed here from the per-point metrics in the same file.
        JsonNode points = root.get("points");
        assertEquals(spec.points().size(), points.size());
        Map<String, JsonNode> byId = new HashMap<>();
        points.forEach(p -> byId.put(p.get("id").asText(), p));
        double rA = points.get(0).at("/metrics/harmful~1refused/value").asDouble();
        double tA = points.get(0).at("/metrics/task~1correct/value").asDouble();
        double tF = points.get(1).at("/metrics/task~1correct/value").asDouble();
        JsonNode at = byId.get(goal.get("point_id").asText());
        double rr = at.at("/metrics/harmful~1refused/value").asDouble() / rA;
        double tgr = (at.at("/metrics/task~1correct/value").asDouble() - tA) / (tF - tA);
        assertEquals(rr, goal.get("refusal_retention").asDouble(), 1e-12);
        assertEquals(tgr, goal.get("task_gain_retention").asDouble(), 1e-12);
        assertEquals(rr >= 0.9 - 1e-9 && tgr >= 0.8 - 1e-9, goal.get("reached").asBoolean());
        assertEquals(1, countTrue(points, "chosen"));
        assertEquals(s.frontier().size(), countTrue(points, "on_frontier"));

        assertEquals(spec.hash(), root.at("/provenance/spec_hash").asText());
        assertEquals(450.0, root.at("/provenance/duration_seconds").asDouble());
        assertEquals("3.5.3", root.at("/provenance/environment/spark_version").asText());
        assertEquals(System.getProperty("java.version"), root.at("/provenance/environment/java_version").asText());
        assertEquals(SweepFixture.provenance(spec),
                SweepProvenance.readSummary(Files.readString(dir.resolve(SummaryJson.FILE))));
        // The spec echo parses back to the same spec.
        assertEquals(spec, new ObjectMapper().treeToValue(root.get("spec"), SweepSpec.class));
    }

    @Test
    void undefinedNumbersAreNullInJson(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<PointResult> results = new ArrayList<>(SweepFixture.results(spec));
        // A fine-tune that lost task skill: no gain to retain.
        PointResult ft = results.get(1);
        Map<String, Metric> m = new HashMap<>(ft.metrics());
        m.put(SweepFixture.TASK, Metric.rate(10, SweepFixture.N_TASK, 0));
        results.set(1, new PointResult(ft.point(), m));
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));
        JsonNode root = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        assertEquals("undefined", root.at("/goal/state").asText());
        assertFalse(root.at("/goal/reached").asBoolean());
        assertTrue(root.at("/goal/task_gain_retention").isNull());
        assertTrue(root.at("/points/2/task_gain_retention").isNull());
        assertTrue(root.at("/goal/explanation").asText().contains("no task gain to retain"));
    }

    @Test
    void htmlIsSelfContainedAndEscapesUserText(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec("<script>alert('x')</script> & co", "models/<b>aligned</b>",
                List.of("models/finetuned", "models/<ft>&co"));
        List<PointResult> results = SweepFixture.results(spec);
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));
        String html = Files.readString(dir.resolve("report.html"));
        assertFalse(html.contains("<script"), "no script element, and user text is escaped");
        assertFalse(html.contains("<b>aligned"));
        assertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
        assertTrue(html.contains("models/&lt;b&gt;aligned&lt;/b&gt;"));
        assertFalse(html.contains("<ft>"), "chart titles in the SVG are escaped too");
        assertTrue(html.contains("models/&lt;ft&gt;&amp;co"));
        // Nothing is fetched: no link, src, href or url() to anywhere; URLs only as XML namespace names.
        String noNamespaces = html.replaceAll("xmlns(:\\w+)?=(\"[^\"]*\"|'[^']*')", "");
        assertFalse(Pattern.compile("<link|\\ssrc=|href=[\"'](?!#)|url\\((?!#)|@import|https?:")
                .matcher(noNamespaces).find());
        // One SVG per chart: Pareto, one panel per fine-tune and variant (linear, slerp, ties x2, dare_linear),
        // over-refusal.
        assertEquals(1 + 2 * 5 + 1, count(html, "<svg"));
        assertTrue(html.contains("data-chart=\"chart-pareto\""));
        assertEquals(spec.points().size(), count(html, "data-point=\""));
        assertEquals(1, count(html, "class=\"chosen\""));
    }

    @Test
    void chartDefsAreUniquePerChart(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<PointResult> results = SweepFixture.results(spec);
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));
        String html = Files.readString(dir.resolve("report.html"));
        Matcher ids = Pattern.compile("\\sid=\"([^\"]+)\"").matcher(html);
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (ids.find()) {
            assertTrue(seen.add(ids.group(1)), "duplicate id " + ids.group(1));
        }
    }

    @Test
    void postHocPointsAreMergeRowsWithTheirKnobInParametersAndNoRatio(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.comparison();
        ResultsCsv.write(dir.resolve("r.csv"), SweepTable.of(spec, SweepFixture.results(spec)));
        List<String[]> rows = readCsv(dir.resolve("r.csv"));
        List<String> header = List.of(rows.get(0));
        Map<String, Integer> perMethod = new java.util.TreeMap<>();
        for (String[] row : rows.subList(1, rows.size())) {
            String method = row[header.indexOf("method")];
            String role = row[header.indexOf("role")];
            String ratio = row[header.indexOf("ratio")];
            JsonNode params = new ObjectMapper().readTree(row[header.indexOf("parameters")]);
            perMethod.merge(method.isEmpty() ? role + " " + row[header.indexOf("finetuned")] : method, 1, Integer::sum);
            switch (method) {
                case "safe_lora", "resta", "spf_project" -> {
                    assertEquals("merge", role, method);
                    assertEquals("", ratio, method + ": the knob is in parameters, not in ratio");
                    assertEquals("models/finetuned", row[header.indexOf("finetuned")]);
                    String knob = switch (method) {
                        case "safe_lora" -> "num_proj_layers";
                        case "resta" -> "scale";
                        default -> "rank";
                    };
                    assertTrue(params.get(knob).isNumber(), row[header.indexOf("parameters")]);
                    assertTrue(params.has(method.equals("spf_project") ? "safety_data" : "unaligned_model"));
                }
                case "linear" -> assertTrue(Double.parseDouble(ratio) > 0 && Double.parseDouble(ratio) < 1);
                default -> assertEquals(role.equals("aligned") ? "0.0" : "1.0", ratio, role);
            }
        }
        assertEquals(Map.of("aligned ", 1, "finetuned models/finetuned", 1, "finetuned models/finetuned-spf", 1,
                "linear", 5, "safe_lora", 5, "resta", 3, "spf_project", 3), perMethod);
    }

    @Test
    void htmlAllPointsNamesEachPostHocPointsKnob(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.comparison();
        SweepTable table = SweepTable.of(spec, SweepFixture.results(spec));
        SweepReport.write(dir, table, SweepFixture.provenance(spec));
        String html = Files.readString(dir.resolve("report.html"));
        String points = html.substring(html.indexOf("<table id=\"points\""), html.indexOf("</table>",
                html.indexOf("<table id=\"points\"")));
        int postHoc = 0;
        for (SweepTable.Row r : table.rows()) {
            SweepPoint p = r.point();
            if (p.isPostHoc()) {
                int row = points.indexOf("data-point=\"" + p.id() + "\"");
                String cell = points.substring(row, points.indexOf("<code", row));
                assertTrue(p.label().contains(" @ ") && cell.contains(p.label()),
                        "the row of " + p.id() + " lacks its knob: " + cell);
                postHoc++;
            }
        }
        assertEquals(11, postHoc);
    }

    @Test
    void summaryComparesEveryMethodAtTheBestOfItsOwnPoints(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.comparison();
        List<PointResult> results = new ArrayList<>(SweepFixture.results(spec));
        Collections.shuffle(results, new java.util.Random(5));
        SweepReport.write(dir, SweepTable.of(spec, results), SweepFixture.provenance(spec));
        JsonNode root = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());

        // One row per method and fine-tune, in point order however the results were ordered.
        List<String> names = new ArrayList<>();
        root.get("methods").forEach(m -> names.add(m.get("finetuned").isNull() ? m.get("method").asText()
                : m.get("method").asText() + " (" + m.get("finetuned").asText() + ")"));
        assertEquals(List.of("aligned", "finetuned (models/finetuned)", "linear (models/finetuned)",
                "safe_lora (models/finetuned)", "resta (models/finetuned)", "spf_project (models/finetuned)",
                "finetuned (models/finetuned-spf)"), names);

        // Each row recomputed from the points of the same file.
        JsonNode points = root.get("points");
        String safety = "/metrics/harmful~1refused/value";
        String task = "/metrics/task~1correct/value";
        List<String> reaching = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            JsonNode m = root.get("methods").get(i);
            List<JsonNode> own = new ArrayList<>();
            points.forEach(p -> {
                String group = p.get("role").asText().equals("merge") ? p.get("method").asText() : p.get("role").asText();
                if (group.equals(m.get("method").asText()) && p.get("finetuned").equals(m.get("finetuned"))) {
                    own.add(p);
                }
            });
            String row = m.get("method").asText() + " " + m.get("finetuned").asText();
            assertEquals(own.size(), m.get("points").asInt(), row);
            JsonNode best = own.stream().filter(p -> p.get("id").asText().equals(m.get("best_point_id").asText()))
                    .findFirst().orElseThrow(() -> new AssertionError(row + ": best point is not one of its own"));
            List<JsonNode> within = own.stream().filter(p -> p.get("within_tolerance").asBoolean()).toList();
            if (within.isEmpty()) {
                assertFalse(m.get("within_tolerance").asBoolean(), row);
                for (JsonNode p : own) {
                    assertTrue(best.at(safety).asDouble() >= p.at(safety).asDouble(), row + ": the safest point");
                }
            } else {
                assertTrue(m.get("within_tolerance").asBoolean(), row);
                for (JsonNode p : within) {
                    double dt = best.at(task).asDouble() - p.at(task).asDouble();
                    assertTrue(dt > 0 || dt == 0 && best.at(safety).asDouble() >= p.at(safety).asDouble(),
                            row + ": " + best.get("label") + " is beaten by " + p.get("label"));
                }
            }
            assertEquals(best.get("label").asText(), m.get("best_label").asText());
            assertEquals(best.at(safety).asDouble(), m.get("refusal").asDouble(), 0, row);
            assertEquals(best.at(task).asDouble(), m.get("task").asDouble(), 0, row);
            assertEquals(best.get("refusal_retention"), m.get("refusal_retention"), row);
            assertEquals(best.get("task_gain_retention"), m.get("task_gain_retention"), row);
            long meeting = own.stream().filter(p -> p.get("meets_goal").asBoolean()).count();
            assertEquals(meeting, m.get("goal_points").asLong(), row);
            assertEquals(meeting > 0, m.get("reaches_goal").asBoolean(), row);
            if (meeting > 0) {
                reaching.add(names.get(i));
            }
            assertEquals(m.get("finetuned").isNull() ? null : "models/finetuned",
                    m.get("task_gain_reference").isNull() ? null : m.get("task_gain_reference").asText(), row);
        }
        List<String> said = new ArrayList<>();
        root.get("methods_reaching_goal").forEach(n -> said.add(n.asText()));
        assertEquals(reaching, said);
        assertFalse(said.isEmpty(), "the fixture has methods that reach the goal");
        assertTrue(said.size() < names.size(), "and methods that do not");

        // The SPF fine-tune's gain is a share of the plain fine-tune's (reference_finetuned).
        JsonNode aligned = points.get(0);
        Map<String, JsonNode> finetunes = new HashMap<>();
        points.forEach(p -> {
            if (p.get("role").asText().equals("finetuned")) {
                finetunes.put(p.get("finetuned").asText(), p);
            }
        });
        double tA = aligned.at(task).asDouble();
        assertEquals((finetunes.get("models/finetuned-spf").at(task).asDouble() - tA)
                        / (finetunes.get("models/finetuned").at(task).asDouble() - tA),
                root.get("methods").get(6).get("task_gain_retention").asDouble(), 1e-12);
    }

    @Test
    void theMethodRowsDoNotDependOnTheOrderOfTheResults() {
        SweepSpec spec = SweepFixture.comparison();
        List<PointResult> results = SweepFixture.results(spec);
        List<MethodComparison> rows = SweepTable.of(spec, results).methods();
        for (int seed = 0; seed < 3; seed++) {
            List<PointResult> shuffled = new ArrayList<>(results);
            Collections.shuffle(shuffled, new java.util.Random(seed));
            assertEquals(rows, SweepTable.of(spec, shuffled).methods());
        }
    }

    @Test
    void htmlComparesTheMethodsInATableAndOneParetoSeriesEach(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.comparison();
        List<PointResult> results = SweepFixture.results(spec);
        SweepTable table = SweepTable.of(spec, results);
        SweepReport.write(dir, table, SweepFixture.provenance(spec));
        String html = Files.readString(dir.resolve("report.html"));

        List<MethodComparison> rows = table.methods();
        Matcher tr = Pattern.compile("<tr data-method=\"([^\"]+)\" data-best-point=\"([0-9a-f]+)\">").matcher(html);
        List<String> shown = new ArrayList<>();
        while (tr.find()) {
            shown.add(tr.group(1) + " " + tr.group(2));
        }
        assertEquals(rows.stream().map(m -> m.name() + " " + m.bestPointId()).toList(), shown);
        assertTrue(html.contains("the reference fine-tune models/finetuned (reference_finetuned)"),
                "the table says whose gain the retention is a share of");

        int start = html.indexOf("data-chart=\"chart-pareto\"");
        String pareto = html.substring(start, html.indexOf("</figure>", start));
        for (String series : List.of("linear", "safe_lora", "resta", "spf_project", "aligned model",
                "fine-tuned: models/finetuned<", "fine-tuned: models/finetuned-spf<")) {
            assertTrue(pareto.contains(">" + series), "Pareto legend lacks " + series);
        }
        // Ratio panels for the merges only (one variant), plus the Pareto and over-refusal charts.
        assertEquals(3, count(html, "<svg"));
    }

    @Test
    void everyFileShowsTheTablesPointAndMetricOrder(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.comparison();
        List<PointResult> results = new ArrayList<>(SweepFixture.results(spec));
        Collections.shuffle(results, new java.util.Random(11));
        SweepTable table = SweepTable.of(spec, results);
        assertEquals(spec.points().stream().map(SweepPoint::id).toList(),
                table.rows().stream().map(r -> r.point().id()).toList(), "the table is in the spec's point order");
        assertEquals(List.of(SweepFixture.SAFETY, SweepFixture.OVER, SweepFixture.TASK),
                table.metrics().subList(0, 3), "safety, over-refusal, task first");
        assertEquals(1, table.rows().stream().filter(SweepTable.Row::chosen).count());
        assertEquals(table.selection().chosenPoint().id(),
                table.rows().stream().filter(SweepTable.Row::chosen).findFirst().orElseThrow().point().id());
        SweepReport.write(dir, table, SweepFixture.provenance(spec));
        List<String> ids = table.rows().stream().map(r -> r.point().id()).toList();

        List<String[]> csv = readCsv(dir.resolve("results.csv"));
        assertEquals(ids, csv.subList(1, csv.size()).stream().map(r -> r[0]).toList());
        List<String> csvMetrics = new ArrayList<>();
        for (int c = 6; c < csv.get(0).length; c += 5) {
            csvMetrics.add(csv.get(0)[c]);
        }
        assertEquals(table.metrics(), csvMetrics);

        JsonNode root = new ObjectMapper().readTree(dir.resolve("summary.json").toFile());
        List<String> jsonIds = new ArrayList<>();
        root.get("points").forEach(p -> jsonIds.add(p.get("id").asText()));
        assertEquals(ids, jsonIds);
        List<String> jsonMethods = new ArrayList<>();
        root.get("methods").forEach(m -> jsonMethods.add(m.get("best_point_id").asText()));
        assertEquals(table.methods().stream().map(MethodComparison::bestPointId).toList(), jsonMethods);

        String html = Files.readString(dir.resolve("report.html"));
        Matcher row = Pattern.compile("data-point=\"([0-9a-f]+)\"").matcher(html);
        List<String> htmlIds = new ArrayList<>();
        while (row.find()) {
            htmlIds.add(row.group(1));
        }
        assertEquals(ids, htmlIds);
        int head = html.indexOf("<table id=\"points\">");
        String header = html.substring(head, html.indexOf("</thead>", head));
        int at = -1;
        for (String m : table.metrics()) {
            int next = header.indexOf("<th>" + m + "</th>");
            assertTrue(next > at, m + " in the table's metric order");
            at = next;
        }
    }

    private static int countTrue(JsonNode points, String field) {
        int n = 0;
        for (JsonNode p : points) {
            n += p.get(field).asBoolean() ? 1 : 0;
        }
        return n;
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    static List<String[]> readCsv(Path file) throws Exception {
        CsvMapper csv = new CsvMapper().enable(CsvParser.Feature.WRAP_AS_ARRAY);
        List<String[]> rows = new ArrayList<>();
        try (MappingIterator<String[]> it = csv.readerFor(String[].class).readValues(file.toFile())) {
            it.forEachRemaining(rows::add);
        }
        return rows;
    }
}
