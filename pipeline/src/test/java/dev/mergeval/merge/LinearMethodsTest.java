package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static dev.mergeval.merge.Merges.merge;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** linear, task_arithmetic and passthrough against hand-derived values. */
class LinearMethodsTest {
    private static final long[] SHAPE = {2, 3};
    private static final float[] A = f(1, 2, 3, 4, 5, 6);
    private static final float[] B = f(6, 5, 4, 3, 2, 1);
    private static final float[] BASE = f(1, 1, 1, 1, 1, 1);
    private static final float[] X1 = f(2, 0, 1, 3, 1, -1);
    private static final float[] X2 = f(1, 3, 1, -1, 2, 1);

    @Test
    void linearNormalizedIsWeightedMean() {
        String yaml = "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]";
        float[] out = merge(yaml, "w", SHAPE, inputs("a", A, "b", B));
        // (1*a + 3*b) / 4
        assertArrayEquals(f(4.75, 4.25, 3.75, 3.25, 2.75, 2.25), out, 0f);
        float[] raw = merge(yaml + "\nparameters: {normalize: false}", "w", SHAPE, inputs("a", A, "b", B));
        assertArrayEquals(f(19, 17, 15, 13, 11, 9), raw, 0f);
    }

    @Test
    void linearWeightsSummingToZeroDivideByOne() {
        String yaml = "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: -1}}]";
        float[] out = merge(yaml, "w", SHAPE, inputs("a", A, "b", B));
        assertArrayEquals(f(-5, -3, -1, 1, 3, 5), out, 0f);
        for (float v : out) {
            assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void linearBaseListedInModelsIsMergedLikeAnyOther() {
        String yaml = """
                merge_method: linear
                base_model: b
                models: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]
                """;
        assertArrayEquals(f(3.5, 3.5, 3.5, 3.5, 3.5, 3.5), merge(yaml, "w", SHAPE, inputs("a", A, "b", B)), 0f);
    }

    @Test
    void taskArithmeticAddsWeightedDeltas() {
        String yaml = """
                merge_method: task_arithmetic
                base_model: base
                models: [{model: x1, parameters: {weight: 0.5}}, {model: x2, parameters: {weight: 1.0}}]
                """;
        // d1 = (1,-1,0,2,0,-2), d2 = (0,2,0,-2,1,0); base + 0.5 d1 + d2
        float[] out = merge(yaml, "w", SHAPE, inputs("base", BASE, "x1", X1, "x2", X2));
        assertArrayEquals(f(1.5, 2.5, 1, 0, 2, 0), out, 0f);
        float[] normalized = merge(yaml + "parameters: {normalize: true}", "w", SHAPE,
                inputs("base", BASE, "x1", X1, "x2", X2));
        assertArrayEquals(f(1 + 0.5 / 1.5, 1 + 1.5 / 1.5, 1, 1 - 1 / 1.5, 1 + 1 / 1.5, 1 - 1 / 1.5), normalized, 1e-6f);
        float[] halved = merge(yaml + "parameters: {lambda: 0.5}", "w", SHAPE,
                inputs("base", BASE, "x1", X1, "x2", X2));
        assertArrayEquals(f(1.25, 1.75, 1, 0.5, 1.5, 0.5), halved, 0f);
    }

    @Test
    void taskArithmeticNormalizeWithZeroWeightSumDividesByOne() {
        String yaml = """
                merge_method: task_arithmetic
                base_model: base
                models: [{model: x1, parameters: {weight: 1}}, {model: x2, parameters: {weight: -1}}]
                parameters: {normalize: true}
                """;
        // d1 - d2 = (1,-3,0,4,-1,-2)
        assertArrayEquals(f(2, -2, 1, 5, 0, -1), merge(yaml, "w", SHAPE, inputs("base", BASE, "x1", X1, "x2", X2)), 0f);
    }

    @Test
    void taskArithmeticWithOnlyTheBaseReturnsTheBase() {
        String yaml = "merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: base}]";
        assertArrayEquals(BASE, merge(yaml, "w", SHAPE, inputs("base", BASE)), 0f);
    }

    @Test
    void passthroughCopiesOrScales() {
        assertArrayEquals(A, merge("merge_method: passthrough\nmodels: [{model: a}]", "w", SHAPE, inputs("a", A)), 0f);
        assertArrayEquals(f(2, 4, 6, 8, 10, 12), merge("merge_method: passthrough\nmodels: [{model: a, parameters: {scale: 2}}]",
                "w", SHAPE, inputs("a", A)), 0f);
    }

    @Test
    void linearChunksOfAnySizeEqualTheWholeTensor() {
        java.util.Random rnd = new java.util.Random(4);
        int n = 3000;
        float[] a = Merges.random(rnd, n, 1);
        float[] b = Merges.random(rnd, n, 1);
        TensorMerger m = TensorMerger.create(Merges.config(
                "merge_method: linear\nmodels: [{model: a, parameters: {weight: 0.3}}, {model: b, parameters: {weight: 0.9}}]"), 1);
        assertTrue(m.chunkable("w"));
        float[] whole = m.merge("w", new long[] {n}, 0, inputs("a", a, "b", b), 0);
        for (int chunk : new int[] {1, 7, 1024, 1500}) {
            float[] joined = new float[n];
            for (int from = 0; from < n; from += chunk) {
                int to = Math.min(n, from + chunk);
                float[] part = m.merge("w", new long[] {n}, from, inputs("a", java.util.Arrays.copyOfRange(a, from, to),
                        "b", java.util.Arrays.copyOfRange(b, from, to)), 0);
                System.arraycopy(part, 0, joined, from, part.length);
            }
            assertArrayEquals(whole, joined, 0f, "chunk " + chunk);
        }
        for (int i = 0; i < n; i++) {
            assertEquals((0.3 * a[i] + 0.9 * b[i]) / 1.2, whole[i], 1e-6);
        }
    }
}
