package dev.mergeval.merge;

import static dev.mergeval.merge.Merges.f;
import static dev.mergeval.merge.Merges.inputs;
import static dev.mergeval.merge.Merges.merge;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** slerp, nuslerp and model_stock against closed-form values. */
class SphericalAndStockTest {
    private static final double S45 = Math.sin(Math.PI / 4);

    private static String slerp(double t) {
        return "merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: " + t + "}";
    }

    @Test
    void slerpOfOrthogonalVectors() {
        // theta = pi/2: y = sin((1-t) pi/2) a + sin(t pi/2) b, norms do not matter for the angle.
        float[] out = merge(slerp(0.5), "w", new long[] {2}, inputs("a", f(2, 0), "b", f(0, 3)));
        assertArrayEquals(f(2 * S45, 3 * S45), out, 1e-6f);
        float[] q = merge(slerp(0.25), "w", new long[] {2, 2}, inputs("a", f(1, 0, 0, 0), "b", f(0, 0, 0, 1)));
        assertArrayEquals(f(Math.sin(3 * Math.PI / 8), 0, 0, Math.sin(Math.PI / 8)), q, 1e-6f);
    }

    @Test
    void slerpEndpointsAreExact() {
        Random rnd = new Random(2);
        float[] a = Merges.random(rnd, 64, 1);
        float[] b = Merges.random(rnd, 64, 1);
        assertArrayEquals(a, merge(slerp(0), "w", new long[] {8, 8}, inputs("a", a, "b", b)), 0f);
        assertArrayEquals(b, merge(slerp(1), "w", new long[] {8, 8}, inputs("a", a, "b", b)), 0f);
    }

    @Test
    void slerpFallsBackToLerpForColinearTensors() {
        float[] a = f(1, 2, 3, 4);
        float[] b = f(2, 4, 6, 8.0001);
        float[] out = merge(slerp(0.3), "w", new long[] {4}, inputs("a", a, "b", b));
        for (int i = 0; i < 4; i++) {
            assertEquals(0.7 * a[i] + 0.3 * b[i], out[i], 1e-6);
        }
        float[] opposite = merge(slerp(0.3), "w", new long[] {4}, inputs("a", a, "b", f(-1, -2, -3, -4)));
        for (int i = 0; i < 4; i++) {
            assertEquals(0.7 * a[i] - 0.3 * a[i], opposite[i], 1e-6);
        }
    }

    @Test
    void slerpTakesAGradientOverLayers() {
        String yaml = "merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\n"
                + "parameters: {t: [{filter: self_attn, value: [0, 1]}, {value: 0.5}]}";
        TensorMerger m = TensorMerger.create(Merges.config(yaml), 3);
        var in = inputs("a", f(1, 0), "b", f(0, 1));
        assertArrayEquals(f(1, 0), m.merge("model.layers.0.self_attn.o_proj.weight", new long[] {2}, 0, in, 0), 0f);
        assertArrayEquals(f(S45, S45), m.merge("model.layers.1.self_attn.o_proj.weight", new long[] {2}, 0, in, 0), 1e-6f);
        assertArrayEquals(f(0, 1), m.merge("model.layers.2.self_attn.o_proj.weight", new long[] {2}, 0, in, 0), 0f);
        assertArrayEquals(f(S45, S45), m.merge("model.layers.0.mlp.up_proj.weight", new long[] {2}, 0, in, 0), 1e-6f);
    }

    @Test
    void nuslerpWeightsGiveT() {
        // t = w1 / (w0 + w1) = 0.75; orthogonal unit vectors.
        String yaml = "merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 3}}]";
        float[] out = merge(yaml, "w", new long[] {2}, inputs("a", f(1, 0), "b", f(0, 1)));
        assertArrayEquals(f(Math.sin(Math.PI / 8), Math.sin(3 * Math.PI / 8)), out, 1e-6f);
        // mergekit test_optional_weight_cannot_silently_drop_a_configured_base, baseless case:
        // weights 0.5 and 0.5 on (1, 0) and (0, 1) give full((2,), 2 ** -0.5).
        String half = "merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 0.5}}, {model: b, parameters: {weight: 0.5}}]";
        assertArrayEquals(f(Math.pow(2, -0.5), Math.pow(2, -0.5)),
                merge(half, "optional.bias", new long[] {2}, inputs("a", f(1, 0), "b", f(0, 1))), 1e-7f);
        String zero = "merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: -1}}]";
        assertArrayEquals(f(S45, S45), merge(zero, "w", new long[] {2}, inputs("a", f(1, 0), "b", f(0, 1))), 1e-6f);
    }

    @Test
    void nuslerpRowsColumnsAndBase() {
        String rows = "merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 1}}, {model: b, parameters: {weight: 1}}]\n"
                + "parameters: {nuslerp_flatten: false}";
        // Row 0: orthogonal -> slerp; row 1: identical -> colinear lerp.
        float[] a = f(1, 0, 1, 0);
        float[] b = f(0, 1, 1, 0);
        assertArrayEquals(f(S45, S45, 1, 0), merge(rows, "w", new long[] {2, 2}, inputs("a", a, "b", b)), 1e-6f);
        // Row-wise: vectors along dim 0, i.e. columns (0: a=(1,1) b=(0,1); 1: a=(0,0) b=(1,0)).
        String rowWise = rows.replace("nuslerp_flatten: false", "nuslerp_flatten: false, nuslerp_row_wise: true");
        float[] cols = merge(rowWise, "w", new long[] {2, 2}, inputs("a", a, "b", b));
        // Row-wise means vectors along dim 0, i.e. columns. Column 0: a = (1,1), b = (0,1), theta = pi/4,
        // y = s (a + b) with s = sin(pi/8) / sin(pi/4). Column 1: a = 0, so theta = pi/2 and y = sin(pi/4) b.
        double s = Math.sin(Math.PI / 8) / Math.sin(Math.PI / 4);
        assertArrayEquals(f(s, S45, 2 * s, 0), cols, 1e-6f);
        String withBase = "merge_method: nuslerp\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1}}, "
                + "{model: b, parameters: {weight: 1}}]";
        float[] base = f(10, 10);
        float[] out = merge(withBase, "w", new long[] {2}, inputs("base", base, "a", f(11, 10), "b", f(10, 11)));
        assertArrayEquals(f(10 + S45, 10 + S45), out, 1e-5f);
    }

    private static String stock(boolean filterWise, int others) {
        StringBuilder sb = new StringBuilder("merge_method: model_stock\nbase_model: base\nmodels:\n");
        for (int k = 1; k <= others; k++) {
            sb.append("  - model: m").append(k).append('\n');
        }
        return sb.append("parameters: {filter_wise: ").append(filterWise).append('}').toString();
    }

    @Test
    void modelStockWithTwoModels() {
        // offsets (1,1) and (1,0): cos = 1/sqrt2, t = 2c / (1 + c); avg offset (1, 0.5).
        double c = 1 / Math.sqrt(2);
        double t = 2 * c / (1 + c);
        float[] out = merge(stock(false, 2), "w", new long[] {2}, inputs("base", f(0, 0), "m1", f(1, 1), "m2", f(1, 0)));
        assertArrayEquals(f(t, t * 0.5), out, 1e-6f);
        // orthogonal offsets: cos 0 -> t 0 -> base
        assertArrayEquals(f(3, 3), merge(stock(false, 2), "w", new long[] {2},
                inputs("base", f(3, 3), "m1", f(4, 3), "m2", f(3, 4))), 0f);
        // exactly opposed offsets: 1 + (N-1) cos = 0, t undefined -> base (mergekit: NaN)
        assertArrayEquals(f(3, 3), merge(stock(false, 2), "w", new long[] {2},
                inputs("base", f(3, 3), "m1", f(4, 3), "m2", f(2, 3))), 0f);
    }

    @Test
    void modelStockThreeModelsAndFilterWise() {
        // three identical offsets: cos = 1, t = 3 / 3 = 1 -> average of the models
        float[] avg = merge(stock(false, 3), "w", new long[] {2},
                inputs("base", f(0, 0), "m1", f(1, 2), "m2", f(1, 2), "m3", f(1, 2)));
        assertArrayEquals(f(1, 2), avg, 1e-6f);
        // filter-wise: row 0 offsets orthogonal (t=0), row 1 offsets identical (t=1)
        float[] rows = merge(stock(true, 2), "w", new long[] {2, 2},
                inputs("base", f(0, 0, 0, 0), "m1", f(1, 0, 2, 2), "m2", f(0, 1, 2, 2)));
        assertArrayEquals(f(0, 0, 2, 2), rows, 1e-6f);
        float[] bias = merge(stock(true, 2), "b", new long[] {2},
                inputs("base", f(0, 0), "m1", f(1, 1), "m2", f(1, 0)));
        double c = 1 / Math.sqrt(2);
        double t = 2 * c / (1 + c);
        assertArrayEquals(f(t, t * 0.5), bias, 1e-6f);
    }
}
