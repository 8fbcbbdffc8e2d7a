package dev.mergeval.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Post-hoc safety methods and several fine-tunes in one sweep: points, configs, retention and the method table. */
class PostHocSweepTest {
    static final String SPEC = """
            aligned: /m/aligned
            finetuned: [/m/finetuned, /m/finetuned-spf]
            reference_finetuned: /m/finetuned
            grid:
              - {method: linear, finetuned: [/m/finetuned], ratios: [0.5, 0.8]}
              - {method: safe_lora, finetuned: [/m/finetuned],
                 parameters: {unaligned_model: /m/base, num_proj_layers: [2, 6], target_modules: [q_proj, v_proj]}}
              - {method: resta, finetuned: [/m/finetuned], parameters: {unaligned_model: /m/base, scale: [0.1, 0.25]}}
              - {method: spf_project, finetuned: [/m/finetuned], parameters: {safety_data: /d/safety.jsonl, rank: 8}}
            suite: suites/toy.yaml
            metrics: {safety: harmful/refusal, task: task/exact}
            """;

    static String error(String yaml) {
        return assertThrows(BadInputException.class, () -> SweepSpec.parse(yaml, "spec.yaml")).getMessage();
    }

    /**
     * A model or file written again (another version) changes the id of every point that reads it and
     * of no other, so a re-run evaluates exactly those; results come back in point order under the
     * versions they carry.
     */
    @Test
    void aNewVersionOfAnInputChangesTheIdsOfThePointsThatReadIt() {
        SweepSpec spec = SweepSpec.parse(SPEC, "spec.yaml");
        Map<String, String> versions = Map.of("/m/aligned", "a1", "/m/finetuned", "f1", "/m/finetuned-spf", "s1",
                "/m/base", "b1", "/d/safety.jsonl", "d1");
        List<SweepPoint> before = spec.points("suite", versions);
        assertEquals(spec.points().size(), before.size());
        for (String changed : versions.keySet()) {
            Map<String, String> next = new java.util.TreeMap<>(versions);
            next.put(changed, "new");
            List<SweepPoint> after = spec.points("suite", next);
            for (int i = 0; i < before.size(); i++) {
                SweepPoint p = before.get(i);
                assertEquals(p.inputSources().contains(changed), !p.id().equals(after.get(i).id()),
                        changed + " and " + p.label() + " (" + p.finetuned() + ")");
            }
        }
        assertEquals(List.of("/m/finetuned-spf"), before.get(before.size() - 1).inputSources());
        assertEquals(List.of("/m/aligned", "/m/finetuned", "/m/base"),
                before.stream().filter(p -> "resta".equals(p.method())).findFirst().orElseThrow().inputSources());
        List<PointResult> results = new ArrayList<>(before.stream()
                .map(p -> new PointResult(p, Map.of())).toList());
        java.util.Collections.reverse(results);
        assertEquals(before, spec.inPointOrder(results).stream().map(PointResult::point).toList());
    }

    @Test
    void eachEntryMakesItsPointsForItsFineTunesOnly() {
        List<SweepPoint> points = SweepSpec.parse(SPEC, "spec.yaml").points();
        List<String> labels = points.stream().map(p -> p.label() + " | " + p.finetuned()).toList();
        assertEquals(List.of(
                "aligned | null",
                "finetuned (/m/finetuned) | /m/finetuned",
                "linear @ 0.5 | /m/finetuned",
                "linear @ 0.8 | /m/finetuned",
                "safe_lora target_modules=q_proj,v_proj @ num_proj_layers=2.0 | /m/finetuned",
                "safe_lora target_modules=q_proj,v_proj @ num_proj_layers=6.0 | /m/finetuned",
                "resta @ scale=0.1 | /m/finetuned",
                "resta @ scale=0.25 | /m/finetuned",
                "spf_project @ rank=8.0 | /m/finetuned",
                "finetuned (/m/finetuned-spf) | /m/finetuned-spf"), labels);
        SweepPoint resta = points.get(6);
        assertEquals(Role.MERGE, resta.role());
        assertTrue(resta.isPostHoc());
        assertNull(resta.ratio());
    }

    @Test
    void aPostHocPointIsTheMethodAppliedToItsFineTune() {
        SweepPoint safeLora = SweepSpec.parse(SPEC, "spec.yaml").points().get(5);
        MergeConfig c = MergeConfig.parse(safeLora.toMergekitYaml(), "point");
        assertEquals("safe_lora", c.mergeMethod());
        assertEquals("/m/aligned", c.baseModel().orElseThrow());
        assertEquals(List.of("/m/finetuned"), c.models().stream().map(m -> m.model()).toList());
        String yaml = safeLora.toMergekitYaml();
        assertTrue(yaml.contains("unaligned_model: /m/base"), yaml);
        assertTrue(yaml.contains("num_proj_layers: 6.0"), yaml);
        assertTrue(yaml.contains("target_modules: \"q_proj,v_proj\"") || yaml.contains("target_modules: q_proj,v_proj"),
                yaml);
        assertFalse(yaml.contains("weight"), yaml);
    }

    @Test
    void badPostHocEntriesNameTheKey() {
        assertTrue(error(SPEC.replace("{method: resta, finetuned: [/m/finetuned],",
                "{method: resta, ratios: [0.5], finetuned: [/m/finetuned],"))
                .contains("grid[2].ratios: resta is applied to the whole fine-tune and takes no ratio"), SPEC);
        assertEquals("spec.yaml: grid[0].finetuned[0]: '/m/other' is not one of the spec's finetuned models"
                + " [/m/finetuned, /m/finetuned-spf]",
                error(SPEC.replace("{method: linear, finetuned: [/m/finetuned]", "{method: linear, finetuned: [/m/other]")));
        assertTrue(error(SPEC.replace("reference_finetuned: /m/finetuned", "reference_finetuned: /m/x"))
                .startsWith("spec.yaml: reference_finetuned: '/m/x' is not one of"));
        assertTrue(error(SPEC.replace("scale: [0.1, 0.25]", "scale: [0.1, 0.25], lambda: 2"))
                .contains("parameters.lambda: not a parameter of resta"));
    }

    @Test
    void aKnobTheMethodIgnoresInItsModeIsNotSwept() {
        String numberMode = SPEC.replace("num_proj_layers: [2, 6]", "threshold: [0.3, 0.5]");
        assertEquals("spec.yaml: grid[1].parameters.threshold: swept, but safe_lora reads it only with"
                + " select_layers_type: threshold (this entry has number, the default), so every value would give"
                + " the same model; set select_layers_type: threshold, or write one grid entry per select_layers_type",
                error(numberMode));
        assertTrue(error(SPEC.replace("num_proj_layers: [2, 6]", "num_proj_layers: [2, 6], select_layers_type: threshold"))
                .contains("grid[1].parameters.num_proj_layers: swept, but safe_lora reads it only with"
                        + " select_layers_type: number (this entry has threshold)"));
        assertTrue(error(SPEC.replace("num_proj_layers: [2, 6]",
                "threshold: [0.3, 0.5], select_layers_type: [threshold, number]"))
                .contains("grid[1].parameters.threshold: swept"));

        List<SweepPoint> points = SweepSpec.parse(SPEC.replace("num_proj_layers: [2, 6]",
                "threshold: [0.3, 0.5], select_layers_type: threshold"), "spec.yaml").points();
        assertEquals(List.of("safe_lora select_layers_type=threshold target_modules=q_proj,v_proj @ threshold=0.3",
                "safe_lora select_layers_type=threshold target_modules=q_proj,v_proj @ threshold=0.5"),
                points.stream().filter(p -> "safe_lora".equals(p.method())).map(SweepPoint::label).toList());
        // A fixed value the mode ignores is left alone: it changes nothing, and makes no extra points.
        assertEquals(2, SweepSpec.parse(SPEC.replace("num_proj_layers: [2, 6]", "num_proj_layers: [2, 6], threshold: 0.3"),
                "spec.yaml").points().stream().filter(p -> "safe_lora".equals(p.method())).count());
    }

    @Test
    void withoutAReferenceEachRowIsMeasuredAgainstItsOwnFineTune() {
        SweepSpec spec = SweepSpec.parse(SPEC.replace("reference_finetuned: /m/finetuned\n", ""), "spec.yaml");
        List<PointResult> results = new ArrayList<>();
        for (SweepPoint p : spec.points()) {
            boolean spf = "/m/finetuned-spf".equals(p.finetuned());
            double task = p.role() == Role.ALIGNED ? 0.1 : spf ? 0.5 : 0.9;
            results.add(new PointResult(p, Map.of("harmful/refusal", Metric.rate(p.isMerge() ? 190 : 150, 200, 0),
                    "task/exact", Metric.rate(Math.round(task * 200), 200, 0))));
        }
        List<MethodComparison> rows = SweepTable.of(spec, results).methods();
        assertNull(rows.get(0).gainReference());
        for (MethodComparison m : rows.subList(1, rows.size())) {
            assertEquals(m.finetuned(), m.gainReference(), m.name());
        }
        MethodComparison spf = rows.get(rows.size() - 1);
        assertEquals("finetuned (/m/finetuned-spf)", spf.name());
        assertEquals(1.0, spf.taskGainRetention(), 1e-12, "its own gain, by definition");
    }

    @Test
    void retentionIsAgainstTheReferenceFineTuneAndTheTableHasOneRowPerMethod() {
        SweepSpec spec = SweepSpec.parse(SPEC, "spec.yaml");
        // refusal, task per point label
        Map<String, double[]> values = new LinkedHashMap<>();
        values.put("aligned | null", new double[] {1.0, 0.0});
        values.put("finetuned (/m/finetuned) | /m/finetuned", new double[] {0.6, 1.0});
        values.put("linear @ 0.5 | /m/finetuned", new double[] {1.0, 0.3});
        values.put("linear @ 0.8 | /m/finetuned", new double[] {0.9, 0.85});
        values.put("safe_lora target_modules=q_proj,v_proj @ num_proj_layers=2.0 | /m/finetuned", new double[] {0.8, 0.95});
        values.put("safe_lora target_modules=q_proj,v_proj @ num_proj_layers=6.0 | /m/finetuned", new double[] {0.93, 0.7});
        values.put("resta @ scale=0.1 | /m/finetuned", new double[] {0.7, 0.9});
        values.put("resta @ scale=0.25 | /m/finetuned", new double[] {0.5, 0.6});
        values.put("spf_project @ rank=8.0 | /m/finetuned", new double[] {0.97, 0.9});
        values.put("finetuned (/m/finetuned-spf) | /m/finetuned-spf", new double[] {0.98, 0.9});
        List<PointResult> results = new ArrayList<>();
        for (SweepPoint p : spec.points()) {
            double[] v = values.get(p.label() + " | " + p.finetuned());
            results.add(new PointResult(p, Map.of("harmful/refusal", Metric.rate(Math.round(v[0] * 200), 200, 0),
                    "task/exact", Metric.rate(Math.round(v[1] * 200), 200, 0))));
        }
        List<MethodComparison> rows = SweepTable.of(spec, results).methods();
        List<String> got = rows.stream().map(r -> r.method() + " " + r.finetuned() + " " + r.bestLabel() + " "
                + r.reachesGoal()).toList();
        assertEquals(List.of(
                "aligned null aligned false",
                "finetuned /m/finetuned finetuned (/m/finetuned) false",
                "linear /m/finetuned linear @ 0.5 true",
                "safe_lora /m/finetuned safe_lora target_modules=q_proj,v_proj @ num_proj_layers=6.0 false",
                "resta /m/finetuned resta @ scale=0.1 false",
                "spf_project /m/finetuned spf_project @ rank=8.0 true",
                "finetuned /m/finetuned-spf finetuned (/m/finetuned-spf) true"), got);
        // linear's best point within the floor (0.95) is 0.5, though 0.8, below the floor, meets the goal
        MethodComparison linear = rows.get(2);
        assertEquals(0.3, linear.taskGainRetention(), 1e-12);
        assertEquals(1, linear.goalPoints(), "linear @ 0.8 keeps 90% of the refusal and 85% of the gain");
        // the SPF fine-tune's gain is measured against the plain fine-tune's: 0.9 / 1.0, not 1
        MethodComparison spf = rows.get(6);
        assertEquals(0.9, spf.taskGainRetention(), 1e-12);
        assertEquals(0.98, spf.refusalRetention(), 1e-12);
        // resta has no point within the floor: its safest point is shown
        assertFalse(rows.get(4).withinTolerance());
    }
}
