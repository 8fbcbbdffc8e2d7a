package dev.mergeval.report;

import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.Goal;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.MethodGrid;
import dev.mergeval.sweep.MetricRoles;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Ratios;
import dev.mergeval.sweep.SelectRule;
import dev.mergeval.sweep.SuiteRef;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A sweep like the demo's (linear, slerp, ties at two densities, dare_linear; ratios 0 to 1) with
 * results computed from smooth trade-off curves: refusal falls and task score rises with the ratio,
 * each method with its own knee, so the charts and the selection have something real to show.
 */
final class SweepFixture {
    static final String SAFETY = "harmful/refused";
    static final String OVER = "borderline/refused";
    static final String TASK = "task/correct";
    static final int N_HARMFUL = 120;
    static final int N_BORDERLINE = 80;
    static final int N_TASK = 150;

    private SweepFixture() {
    }

    static SweepSpec spec(String name, String aligned) {
        return spec(name, aligned, List.of("models/finetuned"));
    }

    static SweepSpec spec(String name, String aligned, List<String> finetuned) {
        return new SweepSpec(name, aligned, finetuned, List.of(
                new MethodGrid("linear", Ratios.range(0, 1, 0.1)),
                new MethodGrid("slerp", Ratios.range(0, 1, 0.1)),
                new MethodGrid("ties", Ratios.range(0.1, 0.9, 0.2), Map.of("density", List.of(0.3, 0.7))),
                new MethodGrid("dare_linear", Ratios.range(0, 1, 0.1), Map.of("density", List.of(0.5)))),
                SuiteRef.ofPath("suites/toy.yaml"), new MetricRoles(SAFETY, OVER, TASK), new SelectRule(null, 0.05),
                Goal.defaults(), null, 7L, null);
    }

    static SweepSpec spec() {
        return spec("toy-demo", "models/aligned");
    }

    /**
     * A comparison like the demo's: a plain and an SPF fine-tune ({@code models/finetuned-spf},
     * measured against the plain one's gain), linear merges, and the three post-hoc methods with
     * their knobs, all on the plain fine-tune.
     */
    static SweepSpec comparison() {
        return SweepSpec.parse("""
                name: compare
                aligned: models/aligned
                finetuned: [models/finetuned, models/finetuned-spf]
                reference_finetuned: models/finetuned
                grid:
                  - {method: linear, finetuned: [models/finetuned], ratios: {from: 0.1, to: 0.9, step: 0.2}}
                  - {method: safe_lora, finetuned: [models/finetuned],
                     parameters: {unaligned_model: models/base, num_proj_layers: [2, 4, 6, 8, 10]}}
                  - {method: resta, finetuned: [models/finetuned],
                     parameters: {unaligned_model: models/base, scale: [0.05, 0.1, 0.25]}}
                  - {method: spf_project, finetuned: [models/finetuned],
                     parameters: {safety_data: data/spf-safety.jsonl, rank: [4, 8, 16]}}
                suite: suites/toy.yaml
                metrics: {safety: harmful/refused, over_refusal: borderline/refused, task: task/correct}
                seed: 7
                """, "compare.yaml");
    }

    /**
     * Where a point sits on the fixture's trade-off curve, as a ratio would: a post-hoc point by its
     * knob (more projected layers, a larger RESTA scale or SPF rank: safer, less task).
     */
    private static double position(SweepPoint p) {
        if (p.ratio() != null) {
            return p.ratio();
        }
        Map<String, Object> k = p.parameters();
        return switch (p.method()) {
            case "safe_lora" -> 1 - (Double) k.get("num_proj_layers") / 20;
            case "resta" -> 1 - 2 * (Double) k.get("scale");
            default -> 0.9 - (Double) k.get("rank") / 50;
        };
    }

    static List<PointResult> results(SweepSpec spec) {
        List<PointResult> out = new ArrayList<>();
        for (SweepPoint p : spec.points()) {
            double l = position(p);
            double knee = switch (p.method() == null ? "" : p.method()) {
                case "slerp" -> 0.62;
                case "ties" -> 0.5 + 0.2 * (Double) p.parameters().get("density");
                case "dare_linear" -> 0.58;
                default -> 0.55;
            };
            double fall = sigmoid((l - safetyBonus(p) - knee) * 12);
            double refusal = 0.93 - 0.58 * fall;
            double over = 0.16 - 0.10 * l + 0.08 * (knee - 0.55) * Math.sin(Math.PI * l);
            double task = 0.18 + 0.52 * sigmoid((l - knee + 0.18) * 9);
            Map<String, Metric> m = new TreeMap<>();
            m.put(SAFETY, Metric.rate(Math.round(refusal * N_HARMFUL), N_HARMFUL, 0));
            m.put(OVER, Metric.rate(Math.round(over * N_BORDERLINE), N_BORDERLINE, 0));
            m.put(TASK, Metric.rate(Math.round(task * N_TASK), N_TASK, p.isMerge() ? 0 : 2));
            out.add(new PointResult(p, m));
        }
        return out;
    }

    /**
     * How much further along the curve a point keeps its refusals: the SPF fine-tune and
     * spf_project's points keep them well past the knee, so that they (and only they) reach the goal.
     */
    private static double safetyBonus(SweepPoint p) {
        if (p.finetuned() != null && p.finetuned().endsWith("-spf")) {
            return 0.6;
        }
        return "spf_project".equals(p.method()) ? 0.35 : 0;
    }

    /** A run of {@code spec} that took 7.5 minutes, on Spark 3.5.3. */
    static SweepProvenance provenance(SweepSpec spec) {
        Environment here = Environment.current();
        Environment onSpark = new Environment(here.mergevalVersion(), here.gitRevision(), here.javaVersion(),
                here.javaVendor(), here.osName(), here.osVersion(), here.arch(), "3.5.3", here.djlVersion(),
                here.pytorchVersion(), here.mklCbwr(), here.mklDisableFastMm(), here.ompNumThreads());
        return SweepProvenance.of(spec.hash(), Instant.parse("2026-11-25T20:00:00Z"),
                Instant.parse("2026-11-25T20:07:30Z"), "local[2]", 12, 0, onSpark);
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }
}
