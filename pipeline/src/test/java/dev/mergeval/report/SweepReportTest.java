package dev.mergeval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.Selector;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
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
        SweepReport.write(dir, spec, results, Selector.select(spec, results), SweepFixture.provenance());

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
        List<SweepPoint> points = spec.points("sha256:0123");
        List<PointResult> results = new ArrayList<>();
        for (PointResult r : SweepFixture.results(spec)) {
            SweepPoint p = points.get(results.size());
            results.add(new PointResult(p, r.metrics()));
        }
        Collections.reverse(results);
        ResultsCsv.write(dir.resolve("r.csv"), spec, results);
        List<String[]> rows = readCsv(dir.resolve("r.csv"));
        for (int i = 0; i < points.size(); i++) {
            assertEquals(points.get(i).id(), rows.get(i + 1)[0]);
        }
    }

    @Test
    void csvQuotesFieldsWithCommasAndQuotes(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec("odd", "models/with,comma \"and quotes\"");
        List<PointResult> results = SweepFixture.results(spec);
        ResultsCsv.write(dir.resolve("r.csv"), spec, results);
        List<String[]> rows = readCsv(dir.resolve("r.csv"));
        assertEquals(spec.points().size() + 1, rows.size());
        assertTrue(rows.stream().allMatch(r -> r.length == rows.get(0).length));
    }

    @Test
    void summaryJsonStatesTheRecommendationGoalAndEveryPoint(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepFixture.spec();
        List<PointResult> results = SweepFixture.results(spec);
        Selection s = Selector.select(spec, results);
        SweepReport.write(dir, spec, results, s, SweepFixture.provenance());
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
        assertEquals("3.5.3", root.at("/provenance/versions/spark").asText());
        assertNotNull(root.at("/provenance/versions/java").asText());
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
        SweepReport.write(dir, spec, results, Selector.select(spec, results), SweepFixture.provenance());
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
        SweepReport.write(dir, spec, results, Selector.select(spec, results), SweepFixture.provenance());
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
        SweepReport.write(dir, spec, results, Selector.select(spec, results), SweepFixture.provenance());
        String html = Files.readString(dir.resolve("report.html"));
        Matcher ids = Pattern.compile("\\sid=\"([^\"]+)\"").matcher(html);
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (ids.find()) {
            assertTrue(seen.add(ids.group(1)), "duplicate id " + ids.group(1));
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
