package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.Mappers;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Mergeval's methods against mergekit's, on {@code mergekit-methods-golden.json}: seeded inputs (a
 * 1-D norm weight and two matrices per case, two to four models) with up to three references.
 * <ul>
 *   <li>{@code expected_mergekit}, every case: what mergekit's own code computed, run on torch by
 *       {@code docs/checks/mergekit_executed_golden.py} (its merge methods and task classes as they
 *       are, only its framework stood in for). Within {@value #TOL_F32} of the tensor's largest
 *       magnitude, element by element. The cases of linear, slerp, nuslerp, model_stock,
 *       task_arithmetic, ties and breadcrumbs have only this reference (DARE's and DELLA's draws
 *       are torch's, which Mergeval does not reproduce); four of them have gradients and filters
 *       over three layers and the tensors outside them;</li>
 *   <li>{@code expected_f32}, for sce, karcher, multislerp, nearswap, arcee_fusion, ram and
 *       ramplus_tl: {@code docs/checks/mergekit_methods_golden.py}'s numpy transliteration of
 *       mergekit's code in float32, within {@value #TOL_F32} likewise;</li>
 *   <li>{@code expected_f64}, for those seven: the same formulas in float64 after float32 task
 *       vectors, the numerics Mergeval documents, within {@value #TOL_F64} of the largest magnitude
 *       (one float32 ulp there).</li>
 * </ul>
 * Selections (top-k trims, sign elections, arcee_fusion's threshold, ram's active elements) must
 * agree exactly for the values to be within any bound; arcee_fusion also checks how many elements it
 * took from the other model.
 */
class MergekitMethodsGoldenTest {
    static final double TOL_F32 = 1e-6;
    static final double TOL_F64 = 1.2e-7;

    @TestFactory
    Stream<DynamicTest> everyCaseMatchesTheReference() throws IOException {
        JsonNode root;
        try (InputStream in = getClass().getResourceAsStream("/mergekit-methods-golden.json")) {
            root = Mappers.JSON.readTree(in);
        }
        List<DynamicTest> tests = new ArrayList<>();
        int i = 0;
        for (JsonNode c : root.get("cases")) {
            String label = (i++) + " " + c.get("method").asText() + " " + c.get("note").asText();
            tests.add(DynamicTest.dynamicTest(label, () -> check(c)));
        }
        assertTrue(tests.size() >= 32, "cases for every deterministic method and gradients");
        return tests.stream();
    }

    private static void check(JsonNode c) {
        MergeConfig config = MergeConfig.parse(c.get("yaml").asText(), "golden.yaml");
        assertEquals(c.get("method").asText(), config.mergeMethod());
        TensorMerger merger = TensorMerger.create(config, c.get("num_layers").asInt());
        for (JsonNode t : c.get("tensors")) {
            String name = t.get("name").asText();
            long[] shape = new long[t.get("shape").size()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = t.get("shape").get(d).asLong();
            }
            Map<String, float[]> inputs = new LinkedHashMap<>();
            t.get("inputs").fields().forEachRemaining(e -> inputs.put(e.getKey(), floats(e.getValue())));
            float[] out = merger.merge(name, shape, 0, inputs, 42L);
            assertClose(floats(t.get("expected_mergekit")), out, TOL_F32, name + " vs mergekit, executed");
            if (t.has("expected_f32")) {
                assertClose(floats(t.get("expected_f32")), out, TOL_F32, name + " vs mergekit float32, transliterated");
                assertClose(floats(t.get("expected_f64")), out, TOL_F64, name + " vs float64 reference");
            }
            if (t.has("kept")) {
                float[] base = inputs.get(config.baseModel().orElseThrow());
                int changed = 0;
                for (int k = 0; k < out.length; k++) {
                    changed += out[k] != base[k] ? 1 : 0;
                }
                assertEquals(t.get("kept").asInt(), changed, name + ": elements taken from the other model");
            }
        }
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        double scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int k = 0; k < expected.length; k++) {
            double d = Math.abs((double) expected[k] - actual[k]);
            if (d > tol * scale) {
                throw new AssertionError(what + ": element " + k + " is " + actual[k] + ", expected " + expected[k]
                        + " (|d| " + d + " > " + tol + " * " + scale + ")");
            }
        }
    }

    static float[] floats(JsonNode values) {
        float[] out = new float[values.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) values.get(k).asDouble();
        }
        return out;
    }
}
