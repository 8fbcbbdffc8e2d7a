package dev.mergeval.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class SelectorTest {
    static final int N = 200;

    /** A one-method linear sweep over the given ratios, with an inline suite. */
    static SweepSpec spec(double tolerance, double... ratios) {
        return new SweepSpec("t", "aligned", List.of("ft"), List.of(new MethodGrid("linear", Ratios.of(ratios))),
                SuiteRef.ofInline(Map.of("tasks", List.of("x"))), new MetricRoles("harm/refused", "benign/refused",
                "task/correct"), new SelectRule(null, tolerance), Goal.defaults(), null, null, null);
    }

    /** Results from success counts out of N: refusals of harmful, refusals of benign, task successes. */
    static PointResult result(SweepPoint p, int refused, int overRefused, int correct) {
        Map<String, Metric> m = new TreeMap<>();
        m.put("harm/refused", Metric.rate(refused, N, 0));
        m.put("benign/refused", Metric.rate(overRefused, N, 0));
        m.put("task/correct", Metric.rate(correct, N, 0));
        return new PointResult(p, m);
    }

    /** counts[i] = {refused, overRefused, correct} for the spec's points in order. */
    static List<PointResult> results(SweepSpec spec, int[]... counts) {
        List<SweepPoint> points = spec.points();
        assertEquals(points.size(), counts.length);
        List<PointResult> out = new ArrayList<>();
        for (int i = 0; i < counts.length; i++) {
            out.add(result(points.get(i), counts[i][0], counts[i][1], counts[i][2]));
        }
        return out;
    }

    @Test
    void highestTaskScoreWithinTheRefusalTolerance() {
        SweepSpec spec = spec(0.05, 0.25, 0.5, 0.75);
        // aligned refuses 180/200 = 0.90; the floor is 0.85 = 170/200.
        List<PointResult> rs = results(spec,
                new int[] {180, 10, 40},   // aligned
                new int[] {60, 4, 160},    // fine-tuned
                new int[] {178, 9, 80},    // 0.25
                new int[] {170, 8, 120},   // 0.5: exactly on the floor, best eligible task
                new int[] {169, 6, 150});  // 0.75: one refusal below the floor
        Selection s = Selector.select(spec, rs);
        assertEquals(0.5, s.chosenPoint().ratio());
        assertEquals(3, s.eligible());
        assertEquals(0.85, s.refusalFloor(), 1e-12);
        assertTrue(s.reason().startsWith("linear @ 0.5 has the highest task score, 0.600 ["), s.reason());
        assertTrue(s.reason().contains("among the 3 points whose refusal rate is at least 0.850 (the aligned"
                + " model's 0.900 minus the tolerance 0.050)"), s.reason());
        assertFalse(s.assessments().get(rs.get(4).point().id()).withinTolerance());
        // Order of the results does not matter.
        List<PointResult> shuffled = new ArrayList<>(rs);
        Collections.reverse(shuffled);
        assertEquals(s.chosenPoint(), Selector.select(spec, shuffled).chosenPoint());
    }

    /** Rates minus the tolerance, and ratios of rates, leave floating-point noise that summary.json would print. */
    @Test
    void theFloorAndRetentionsCarryNoFloatingPointNoise() {
        SweepSpec spec = spec(0.05, 0.5);
        // aligned refuses 21/200 = 0.105: 0.105 - 0.05 is 0.05499999999999999 in doubles.
        List<PointResult> rs = results(spec, new int[] {21, 10, 40}, new int[] {5, 4, 160},
                new int[] {11, 9, 100});
        Selection s = Selector.select(spec, rs);
        assertEquals(0.055, s.refusalFloor());
        PointAssessment a = s.assessments().get(rs.get(2).point().id());
        assertTrue(a.withinTolerance());
        assertEquals(0.52380952381, a.refusalRetention(), "0.055 / 0.105 to 12 digits");
        assertEquals(0.5, a.taskGainRetention(), "(0.5 - 0.2) / (0.8 - 0.2) is 0.4999999999999999 in doubles");
    }

    @Test
    void zeroToleranceCanLeaveOnlyTheAlignedModel() {
        SweepSpec spec = spec(0.0, 0.5);
        Selection s = Selector.select(spec, results(spec,
                new int[] {180, 10, 40}, new int[] {60, 4, 160}, new int[] {179, 9, 150}));
        assertEquals(Role.ALIGNED, s.chosenPoint().role());
        assertEquals(1, s.eligible());
    }

    @Test
    void tiesAreBrokenByRefusalThenOverRefusalThenRoleThenRatio() {
        SweepSpec spec = spec(0.5, 0.2, 0.4, 0.6, 0.8);
        // 0.4 and 0.6 tie on task; 0.6 refuses more harmful prompts.
        Selection s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {170, 9, 100}, new int[] {150, 9, 120}, new int[] {160, 9, 120}, new int[] {100, 9, 110}));
        assertEquals(0.6, s.chosenPoint().ratio());
        assertTrue(s.reason().contains("2 points share that task score"), s.reason());
        // Tied on task and refusal: lower over-refusal wins.
        s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {170, 9, 100}, new int[] {160, 7, 120}, new int[] {160, 9, 120}, new int[] {100, 9, 110}));
        assertEquals(0.4, s.chosenPoint().ratio());
        // Tied on everything: the lower ratio wins, in whatever order the results come.
        List<PointResult> rs = results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {170, 9, 100}, new int[] {160, 9, 120}, new int[] {160, 9, 120}, new int[] {160, 9, 120});
        assertEquals(0.4, Selector.select(spec, rs).chosenPoint().ratio());
        Collections.reverse(rs);
        assertEquals(0.4, Selector.select(spec, rs).chosenPoint().ratio());
        // Aligned tied with a merge: the aligned model wins (nothing to merge).
        s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {180, 10, 40}, new int[] {100, 9, 30}, new int[] {90, 9, 30}, new int[] {80, 9, 30}));
        assertEquals(Role.ALIGNED, s.chosenPoint().role());
    }

    @Test
    void goalReachedAtTheChosenPointWithTheMeasuredRatios() {
        SweepSpec spec = spec(0.05, 0.5);
        // RR = 171/180 = 0.95, TGR = (136 - 40) / (160 - 40) = 0.8 exactly.
        Selection s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {171, 9, 136}));
        GoalStatus g = s.goal();
        assertEquals(GoalStatus.State.REACHED, g.state());
        assertEquals(s.chosenPoint().id(), g.pointId());
        assertTrue(g.chosenMeetsGoal());
        assertEquals(0.95, g.refusalRetention(), 1e-12);
        assertEquals(0.8, g.taskGainRetention(), 1e-12);
        assertTrue(g.explanation().startsWith("Goal reached at linear @ 0.5: it keeps 95.0% of the aligned model's"
                + " refusal rate and 80.0% of the fine-tune's task gain"), g.explanation());
        assertEquals(0.0, s.assessments().get(spec.points().get(0).id()).taskGainRetention());
        assertEquals(1.0, s.assessments().get(spec.points().get(1).id()).taskGainRetention());
    }

    @Test
    void goalReachedElsewhereThanTheChosenPoint() {
        SweepSpec spec = spec(0.0, 0.3, 0.6);
        // Tolerance 0 keeps only points refusing >= 0.9; 0.3 meets the goal (RR 0.95, TGR 0.85) but is not eligible.
        Selection s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {171, 9, 142}, new int[] {100, 9, 150}));
        assertEquals(Role.ALIGNED, s.chosenPoint().role());
        assertEquals(GoalStatus.State.REACHED, s.goal().state());
        assertFalse(s.goal().chosenMeetsGoal());
        assertEquals(spec.points().get(2).id(), s.goal().pointId());
        assertEquals(0.85, s.goal().taskGainRetention(), 1e-12);
        assertTrue(s.goal().explanation().contains("The recommended point does not meet the goal"));
    }

    @Test
    void goalNotReachedNamesTheClosestPoint() {
        SweepSpec spec = spec(0.05, 0.3, 0.6);
        // 0.3: RR 0.95, TGR 0.5 -> min(1.056, 0.625); 0.6: RR 0.5, TGR 0.9 -> min(0.556, 1.125).
        Selection s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {171, 9, 100}, new int[] {90, 9, 148}));
        GoalStatus g = s.goal();
        assertEquals(GoalStatus.State.NOT_REACHED, g.state());
        assertEquals(spec.points().get(2).id(), g.pointId());
        assertEquals(0.5, g.taskGainRetention(), 1e-12);
        assertTrue(g.explanation().startsWith("Goal not reached: no point keeps at least 90.0% of the aligned"
                + " model's refusal rate and at least 80.0% of the fine-tune's task gain. Closest: linear @ 0.3"
                + " keeps 95.0% of the refusal rate and 50.0% of the task gain."), g.explanation());
    }

    @Test
    void noTaskGainMakesTheGoalUndefined() {
        SweepSpec spec = spec(0.05, 0.5);
        for (int ftTask : new int[] {40, 30}) {
            Selection s = Selector.select(spec, results(spec, new int[] {180, 10, 40}, new int[] {60, 4, ftTask},
                    new int[] {175, 9, 60}));
            GoalStatus g = s.goal();
            assertEquals(GoalStatus.State.UNDEFINED, g.state());
            assertNull(g.pointId());
            assertTrue(Double.isNaN(s.assessments().get(spec.points().get(2).id()).taskGainRetention()));
            assertTrue(g.explanation().contains("no task gain to retain"), g.explanation());
            assertTrue(g.explanation().contains(ftTask == 40 ? "No task gain to retain for fine-tune: 'ft' changed"
                    + " the task score by +0.000." : "'ft' changed the task score by -0.050"), g.explanation());
            // The selection itself still works on the numbers.
            assertEquals(0.5, s.chosenPoint().ratio());
        }
    }

    @Test
    void alignedModelThatNeverRefusesMakesTheGoalUndefined() {
        SweepSpec spec = spec(0.05, 0.5);
        Selection s = Selector.select(spec, results(spec, new int[] {0, 0, 40}, new int[] {0, 0, 160},
                new int[] {0, 0, 100}));
        assertEquals(GoalStatus.State.UNDEFINED, s.goal().state());
        assertTrue(s.goal().explanation().contains("refuses none of the harmful prompts"));
        assertTrue(Double.isNaN(s.assessments().get(spec.points().get(2).id()).refusalRetention()));
    }

    @Test
    void missingAlignedMetricIsABadInput() {
        SweepSpec spec = spec(0.05, 0.5);
        List<PointResult> rs = new ArrayList<>(results(spec, new int[] {180, 10, 40}, new int[] {60, 4, 160},
                new int[] {175, 9, 60}));
        rs.set(0, new PointResult(rs.get(0).point(), Map.of("harm/refused", Metric.rate(180, N, 0))));
        assertTrue(assertThrows(BadInputException.class, () -> Selector.select(spec, rs)).getMessage()
                .contains("'task/correct'"));
        assertThrows(IllegalArgumentException.class, () -> Selector.select(spec, rs.subList(1, 3)));
    }

    @Test
    void paretoFrontierKeepsUndominatedPoints() {
        SweepSpec spec = spec(0.05, 0.25, 0.5, 0.75);
        List<PointResult> rs = results(spec,
                new int[] {180, 10, 40},   // frontier (safest)
                new int[] {60, 4, 160},    // frontier (best task)
                new int[] {170, 9, 100},   // frontier
                new int[] {160, 9, 90},    // dominated by 0.25
                new int[] {120, 6, 150});  // frontier
        List<String> ids = ParetoFrontier.of(rs, spec.metrics()).stream().map(r -> r.point().id()).toList();
        List<SweepPoint> p = spec.points();
        assertEquals(List.of(p.get(0).id(), p.get(2).id(), p.get(4).id(), p.get(1).id()), ids);
        assertEquals(ids, Selector.select(spec, rs).frontier());
    }
}
