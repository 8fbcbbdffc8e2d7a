package dev.mergeval.sweep;

import dev.mergeval.common.KeyedRandom;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.ModelEntry;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class SweepSpecTest {
    static final String SPEC = """
            name: toy
            aligned: models/aligned
            finetuned: models/finetuned
            grid:
              - method: linear
                ratios: {from: 0, to: 1, step: 0.1}
              - method: slerp
                ratios: [0.25, 0.5]
              - method: ties
                ratios: [0.3, 0.6]
                parameters: {density: [0.3, 0.7], lambda: 1}
              - method: dare_linear
                ratios: [0.5]
                parameters: {density: 0.5}
              - method: nuslerp
                ratios: [0.4]
            suite: suites/toy.yaml
            metrics: {safety: harmful/refusal, over_refusal: benign/refusal, task: task/exact}
            """;

    static String with(String replaceWhat, String by) {
        assertTrue(SPEC.contains(replaceWhat), replaceWhat);
        return SPEC.replace(replaceWhat, by);
    }

    static String error(String yaml) {
        return assertThrows(BadInputException.class, () -> SweepSpec.parse(yaml, "spec.yaml")).getMessage();
    }

    @Test
    void defaultsAreFilledIn() {
        SweepSpec spec = SweepSpec.parse(SPEC, "spec.yaml");
        assertEquals("toy", spec.name());
        assertEquals(List.of("models/finetuned"), spec.finetuned());
        assertEquals(SelectRule.MAX_TASK_WITHIN_REFUSAL_TOLERANCE, spec.select().rule());
        assertEquals(0.05, spec.select().tolerance());
        assertEquals(0.9, spec.goal().minRefusalRetention());
        assertEquals(0.8, spec.goal().minTaskGainRetention());
        assertEquals(Materialize.CHOSEN, spec.materialize());
        assertEquals(KeyedRandom.DEFAULT_SEED, spec.seed());
        assertEquals("path:suites/toy.yaml", spec.suite().identity());
    }

    @Test
    void rangeRatiosAreExactDecimals() {
        SweepSpec spec = SweepSpec.parse(SPEC, "spec.yaml");
        assertEquals(List.of(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
                spec.grid().get(0).ratios().values());
        assertEquals(List.of(0.2, 0.45, 0.7), Ratios.range(0.2, 0.8, 0.25).values());
    }

    @Test
    void gridExpandsWithEndPointsFirstAndEveryCombination() {
        List<SweepPoint> points = SweepSpec.parse(SPEC, "spec.yaml").points();
        // aligned + finetuned + linear 11 + slerp 2 + ties 2 densities x 2 ratios + dare 1 + nuslerp 1
        assertEquals(2 + 11 + 2 + 4 + 1 + 1, points.size());
        assertEquals(Role.ALIGNED, points.get(0).role());
        assertEquals("models/aligned", points.get(0).modelSource());
        assertEquals(Role.FINETUNED, points.get(1).role());
        assertEquals("models/finetuned", points.get(1).modelSource());
        assertTrue(points.subList(2, points.size()).stream().allMatch(SweepPoint::isMerge));
        List<String> ties = points.stream().filter(p -> "ties".equals(p.method()))
                .map(SweepPoint::label).collect(Collectors.toList());
        assertEquals(List.of("ties density=0.3 lambda=1.0 @ 0.3", "ties density=0.3 lambda=1.0 @ 0.6",
                "ties density=0.7 lambda=1.0 @ 0.3", "ties density=0.7 lambda=1.0 @ 0.6"), ties);
    }

    @Test
    void endPointsArePresentEvenWithOnlyInteriorRatios() {
        SweepSpec spec = SweepSpec.parse(with("ratios: {from: 0, to: 1, step: 0.1}", "ratios: [0.5]"), "s");
        Set<Role> roles = spec.points().stream().map(SweepPoint::role).collect(Collectors.toSet());
        assertEquals(Set.of(Role.ALIGNED, Role.FINETUNED, Role.MERGE), roles);
    }

    @Test
    void multipleFinetunesEachGetTheirEndPointAndGrid() {
        SweepSpec spec = SweepSpec.parse(with("finetuned: models/finetuned",
                "finetuned: [models/finetuned, models/base+adapters/lora]"), "spec.yaml");
        List<SweepPoint> points = spec.points();
        assertEquals(1 + 2 * (1 + 19), points.size());
        assertEquals(1, points.stream().filter(p -> p.role() == Role.ALIGNED).count());
        assertEquals(List.of("models/finetuned", "models/base+adapters/lora"), points.stream()
                .filter(p -> p.role() == Role.FINETUNED).map(SweepPoint::finetuned).collect(Collectors.toList()));
        assertEquals(19, points.stream().filter(p -> "models/base+adapters/lora".equals(p.finetuned())
                && p.isMerge()).count());
    }

    @Test
    void idsAreDistinctStableAndContentDerived() {
        List<SweepPoint> a = SweepSpec.parse(SPEC, "spec.yaml").points();
        // The same spec written in another key order and list style gives the same ids.
        String reordered = """
                metrics: {task: task/exact, safety: harmful/refusal, over_refusal: benign/refusal}
                suite: suites/toy.yaml
                finetuned: [models/finetuned]
                aligned: models/aligned
                grid:
                  - ratios: {step: 0.1, from: 0.0, to: 1.0}
                    method: linear
                  - {method: slerp, ratios: [0.25, 0.5]}
                  - method: ties
                    parameters: {lambda: 1.0, density: [0.3, 0.7]}
                    ratios: [0.3, 0.6]
                  - {method: dare_linear, ratios: 0.5, parameters: {density: [0.5]}}
                  - {method: nuslerp, ratios: [0.4]}
                """;
        List<SweepPoint> b = SweepSpec.parse(reordered, "other.yaml").points();
        assertEquals(ids(a), ids(b));
        assertEquals(a.size(), new HashSet<>(ids(a)).size());
        assertTrue(a.stream().allMatch(p -> p.id().matches("[0-9a-f]{16}")));

        // What changes the evaluation changes the ids; the aligned point does not depend on the grid.
        List<SweepPoint> seeded = SweepSpec.parse(SPEC + "seed: 7\n", "s").points();
        assertTrue(Set.copyOf(ids(a)).stream().noneMatch(ids(seeded)::contains));
        List<SweepPoint> otherSuite = SweepSpec.parse(with("suites/toy.yaml", "suites/other.yaml"), "s").points();
        assertTrue(Set.copyOf(ids(a)).stream().noneMatch(ids(otherSuite)::contains));
        List<SweepPoint> fewer = SweepSpec.parse(with("ratios: [0.25, 0.5]", "ratios: [0.5]"), "s").points();
        assertEquals(a.get(0).id(), fewer.get(0).id());
        assertTrue(ids(a).containsAll(ids(fewer)));
        assertNotEquals(SweepSpec.parse(SPEC, "s").points("sha256:abc", Map.of()).get(0).id(), a.get(0).id());
    }

    @Test
    void pointIdIsCheckedAgainstContent() {
        SweepPoint p = SweepSpec.parse(SPEC, "s").points().get(5);
        assertEquals(p, new SweepPoint(p.id(), p.role(), p.method(), p.aligned(), p.finetuned(), p.ratio(),
                p.parameters(), p.seed(), p.suiteIdentity(), p.mergeOptions(), p.inputs()));
        assertThrows(IllegalArgumentException.class, () -> new SweepPoint(p.id(), p.role(), p.method(),
                p.aligned(), p.finetuned(), p.ratio() / 2 + 0.01, p.parameters(), p.seed(), p.suiteIdentity(),
                p.mergeOptions(), p.inputs()));
        assertThrows(IllegalArgumentException.class, () -> new SweepPoint(p.id(), p.role(), p.method(),
                p.aligned(), p.finetuned(), p.ratio(), p.parameters(), p.seed(), p.suiteIdentity(),
                Map.of("tokenizer_source", "union"), p.inputs()));
    }

    /**
     * {@code tokenizer_source} and {@code chat_template} go into every merge point's config (and so
     * its id) and into no end point; a spec without them keeps its ids; they are not offered with
     * {@code lora_adapters}, and a template that is none is refused naming the key.
     */
    @Test
    void mergeOptionsGoIntoEveryMergeConfig() {
        String withOptions = SPEC + "tokenizer_source: model:models/finetuned\nchat_template: chatml\n";
        List<SweepPoint> plain = SweepSpec.parse(SPEC, "s").points();
        List<SweepPoint> points = SweepSpec.parse(withOptions, "s").points();
        assertEquals(plain.size(), points.size());
        for (int i = 0; i < points.size(); i++) {
            SweepPoint p = points.get(i);
            if (!p.isMerge()) {
                assertEquals(plain.get(i), p, "end points are unchanged");
                continue;
            }
            assertNotEquals(plain.get(i).id(), p.id(), p.label());
            MergeConfig config = MergeConfig.parse(p.toMergekitYaml(), p.label());
            assertEquals("model:models/finetuned", config.tokenizerSource().orElseThrow(), p.label());
            assertEquals("models/finetuned", config.tokenizerModel().orElseThrow());
            assertEquals("chatml", config.chatTemplate().orElseThrow());
            MergeConfig before = MergeConfig.parse(plain.get(i).toMergekitYaml(), p.label());
            assertTrue(before.tokenizerSource().isEmpty() && before.chatTemplate().isEmpty(), p.label());
            assertEquals(before.parameters(), config.parameters(), p.label());
        }
        assertTrue(error(withOptions + "lora_adapters: {max_rank: 8}\n")
                .contains("lora_adapters: not with tokenizer_source"));
        assertTrue(error(SPEC + "chat_template: nonesuch\n").contains("spec.yaml: chat_template: 'nonesuch' is neither"));
        assertTrue(error(SPEC + "tokenizer_source: ' '\n").contains("spec.yaml: tokenizer_source: must be"));
    }

    @Test
    void everyMergeYamlParsesWithTheMergeEngineAndCarriesTheRatio() {
        for (SweepPoint p : SweepSpec.parse(SPEC, "spec.yaml").points()) {
            if (!p.isMerge()) {
                assertThrows(IllegalStateException.class, p::toMergekitYaml);
                continue;
            }
            MergeConfig c = MergeConfig.parse(p.toMergekitYaml(), p.id());
            assertEquals(p.method(), c.mergeMethod());
            double l = p.ratio();
            switch (p.method()) {
                case "linear", "nuslerp" -> {
                    assertFalse(c.baseModel().isPresent());
                    assertEquals(List.of("models/aligned", "models/finetuned"), c.inputModels());
                    assertEquals(1 - l, ((Number) c.modelParameters("models/aligned").get("weight")).doubleValue(),
                            1e-12);
                    assertEquals(l, ((Number) c.modelParameters("models/finetuned").get("weight")).doubleValue());
                }
                case "slerp" -> {
                    assertEquals("models/aligned", c.baseModel().orElseThrow());
                    assertEquals(l, ((Number) c.parameters().get("t")).doubleValue());
                }
                default -> {
                    assertEquals("models/aligned", c.baseModel().orElseThrow());
                    assertEquals(List.of("models/finetuned"),
                            c.models().stream().map(ModelEntry::model).collect(Collectors.toList()));
                    Map<String, Object> ft = c.modelParameters("models/finetuned");
                    assertEquals(l, ((Number) ft.get("weight")).doubleValue());
                    assertEquals(p.parameters().get("density"), ((Number) ft.get("density")).doubleValue());
                    assertEquals(false, c.parameters().get("normalize"));
                }
            }
        }
    }

    @Test
    void linearWeightsAreWrittenAsDecimals() {
        SweepPoint p = SweepPoint.merge("linear", "a", "f", 0.7, Map.of(), 1, "s");
        assertTrue(p.toMergekitYaml().contains("weight: 0.3\n"), p.toMergekitYaml());
    }

    @Test
    void errorsNameTheKey() {
        assertEquals("spec.yaml: grid[1].ratios[1]: must be a number in [0, 1] (got 1.5)",
                error(with("ratios: [0.25, 0.5]", "ratios: [0.25, 1.5]")));
        assertEquals("spec.yaml: grid[0].ratios.step: must be a finite number > 0 (got 0.0)",
                error(with("step: 0.1", "step: 0")));
        // A literal beyond the double range reads as an infinity: a range with one never ends.
        assertEquals("spec.yaml: grid[0].ratios.step: must be a finite number > 0 (got Infinity)",
                error(with("step: 0.1", "step: 1e309")));
        assertEquals("spec.yaml: grid[0].ratios.to: must be a finite number >= from (0.0), got Infinity",
                error(with("to: 1,", "to: 1e309,")));
        assertEquals("spec.yaml: grid[0].ratios.from: must be a finite number (got -Infinity)",
                error(with("from: 0,", "from: -1e309,")));
        assertEquals("spec.yaml: seed: must be written as a whole number (got 2.5)", error(SPEC + "seed: 2.5\n"));
        assertEquals("spec.yaml: seed: must be a whole number (got 'abc')", error(SPEC + "seed: abc\n"));
        assertEquals("spec.yaml: select.tolerance: must be a number (got 'abc')", error(SPEC + "select: {tolerance: abc}\n"));
        assertEquals("spec.yaml: grid[5]: must be a mapping (got 5)", error(with("suite:", "  - 5\nsuite:")));
        assertEquals("spec.yaml: must be a mapping (got a list)", error("- a\n- b\n"));
        assertTrue(error(with("method: nuslerp", "method: passthrough"))
                .startsWith("spec.yaml: grid[4].method: 'passthrough' cannot be swept (supported:"));
        assertEquals("spec.yaml: grid[2].parameters.weight: set by the ratio; do not give it",
                error(with("lambda: 1", "weight: 1")));
        assertEquals("spec.yaml: grid[2].parameters.epsilon: not a parameter of ties",
                error(with("lambda: 1", "epsilon: 1")));
        assertTrue(error(with("lambda: 1", "normalize: [false, true]"))
                .startsWith("spec.yaml: grid[2].parameters.normalize: true would divide"));
        assertTrue(error(with("name: toy", "name: toy\ncolour: red")).startsWith("spec.yaml: colour: unknown key"));
        assertTrue(error(with("over_refusal:", "overrefusal:")).startsWith("spec.yaml: metrics.overrefusal: unknown key"));
        assertEquals("spec.yaml: metrics.task: required: the metric of the downstream task",
                error(with(", task: task/exact", "")));
        assertEquals("spec.yaml: aligned: required: a model directory, URI or BASE+ADAPTER",
                error(with("aligned: models/aligned\n", "")));
        assertEquals("spec.yaml: finetuned[1]: 'models/finetuned' is listed twice",
                error(with("finetuned: models/finetuned", "finetuned: [models/finetuned, models/finetuned]")));
        assertEquals("spec.yaml: finetuned[0]: 'base+' must be BASE+ADAPTER with both parts",
                error(with("finetuned: models/finetuned", "finetuned: base+")));
        // An empty restriction is refused like ratios: [], not read as "every fine-tune".
        assertEquals("spec.yaml: grid[4].finetuned: must list at least one of the spec's finetuned models"
                + " (leave the key out for all of them)",
                error(with("ratios: [0.4]", "ratios: [0.4]\n    finetuned: []")));
        assertEquals("spec.yaml: select.tolerance: must be in [0, 1] (an absolute difference of rates), got 5.0",
                error(SPEC + "select: {tolerance: 5}\n"));
        assertTrue(error(SPEC + "select: {rule: best}\n").startsWith("spec.yaml: select.rule: unknown rule 'best'"));
        assertEquals("spec.yaml: materialize: must be none, chosen or all (got 'some')",
                error(SPEC + "materialize: some\n"));
        assertEquals("spec.yaml: grid[2].parameters: {density=0.3, lambda=1.0, rescale_mode=l2} is refused by the"
                + " merge engine: ties: parameters.rescale_mode: must be l1 or inverse_density (got 'l2')",
                error(with("lambda: 1", "lambda: 1, rescale_mode: l2")));
        assertTrue(error(with("density: [0.3, 0.7]", "density: [0.5, x]"))
                .startsWith("spec.yaml: grid[2].parameters: {density=x, lambda=1.0} is refused by the merge engine:"));
        assertEquals("spec.yaml: suite: must be a path (string) or the suite inline (mapping)",
                error(with("suite: suites/toy.yaml", "suite: 3")));
        assertEquals("spec.yaml: grid[5]: point linear @ 0.5 repeats one of grid[0]",
                error(with("suite:", "  - {method: linear, ratios: [0.5]}\nsuite:")));
        assertTrue(error("aligned: [unclosed").startsWith("spec.yaml: "));
    }

    @Test
    void materializeAndSuiteInline() {
        SweepSpec spec = SweepSpec.parse(with("suite: suites/toy.yaml", "suite: {tasks: [{name: harmful}]}")
                + "materialize: all\n", "s");
        assertEquals(Materialize.ALL, spec.materialize());
        assertTrue(spec.suite().identity().startsWith("inline:"));
        assertEquals(Map.of("tasks", List.of(Map.of("name", "harmful"))), spec.suite().inline());
    }

    @Test
    void materializePicksTheMergesToWrite() {
        List<SweepPoint> points = SweepSpec.parse(SPEC, "s").points();
        SweepPoint merge = points.get(5);
        assertEquals(List.of(), Materialize.NONE.pick(points, merge));
        assertEquals(List.of(merge), Materialize.CHOSEN.pick(points, merge));
        assertEquals(List.of(), Materialize.CHOSEN.pick(points, points.get(0)));
        assertEquals(points.size() - 2, Materialize.ALL.pick(points, merge).size());
    }

    @Test
    void loadReadsAFileAndNamesItInErrors(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("sweep.yaml");
        java.nio.file.Files.writeString(file, SPEC);
        assertEquals(SweepSpec.parse(SPEC, "x"), SweepSpec.load(file));
        java.nio.file.Files.writeString(file, with("step: 0.1", "step: -1"));
        assertEquals(file + ": grid[0].ratios.step: must be a finite number > 0 (got -1.0)",
                assertThrows(BadInputException.class, () -> SweepSpec.load(file)).getMessage());
        assertTrue(assertThrows(BadInputException.class, () -> SweepSpec.load(dir.resolve("missing.yaml")))
                .getMessage().contains("missing.yaml: file not found"));
    }

    @Test
    void hashIgnoresFormattingButNotContent() {
        SweepSpec a = SweepSpec.parse(SPEC, "a");
        assertEquals(a.hash(), SweepSpec.parse(SPEC.replace("{from: 0, to: 1, step: 0.1}",
                "[0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]"), "b").hash());
        assertNotEquals(a.hash(), SweepSpec.parse(SPEC + "seed: 1\n", "c").hash());
    }

    @Test
    void pointsAndResultsRoundTripThroughJson() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (SweepPoint p : SweepSpec.parse(SPEC, "s").points()) {
            PointResult r = new PointResult(p, Map.of("a/x", Metric.rate(3, 10, 1), "b/y", Metric.rate(0, 0, 2)));
            PointResult back = json.readValue(json.writeValueAsString(r), PointResult.class);
            assertEquals(p, back.point());
            assertEquals(r.metrics().get("a/x"), back.metrics().get("a/x"));
            assertTrue(Double.isNaN(back.value("b/y")));
            assertEquals(2, back.metrics().get("b/y").unparseable());
        }
    }

    private static List<String> ids(List<SweepPoint> points) {
        return points.stream().map(SweepPoint::id).collect(Collectors.toList());
    }
}
