package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * TIES streamed over chunks ({@link TensorMerger#streamed}) against the whole-tensor merge, bit for
 * bit: one to three fine-tunes, densities that trim, keep all or drop all, the L1 and
 * inverse-density rescales, deltas whose cut bucket holds several values (F32, resolved by a second
 * pass) or one (BF16-like values, resolved by the first), a million ties at the cut of which only
 * some are kept (counted across chunks), and chunk sizes that do and do not divide the tensor.
 */
class StreamedMergeTest {
    private static final int[] CHUNKS = {1000, 4096, 1 << 18};

    @Test
    void streamedTiesEqualsTheWholeTensorMerge() {
        Random rnd = new Random(11);
        int n = 70_001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] tunes = {delta(rnd, base, false), delta(rnd, base, true), delta(rnd, base, true)};
        String[] globals = {"", "rescale: true", "rescale: true, rescale_mode: inverse_density", "normalize: false, lambda: 0.7"};
        double[][] densities = {{0.5}, {0.2, 0.9}, {0.5, 1.0, 0.33}, {1e-9, 0.5}, {0.01, 0.01, 0.01}};
        for (String global : globals) {
            for (double[] density : densities) {
                float[][] inputs = new float[density.length + 1][];
                inputs[0] = base;
                System.arraycopy(tunes, 0, inputs, 1, density.length);
                check(ties(density, global), new long[] {n}, n, inputs);
            }
        }
    }

    @Test
    void aMillionTiesAtTheCutAreKeptByIndexAcrossChunks() {
        // Every delta has the same magnitude except a few: the cut's bucket holds nearly all of the
        // 1.3M elements, and only some of those ties are kept.
        int n = 1_300_000;
        Random rnd = new Random(5);
        float[] base = new float[n];
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            base[i] = 0.5f;
            x[i] = i % 1000 == 0 ? (float) (0.5 + rnd.nextGaussian()) : (rnd.nextBoolean() ? 0.625f : 0.375f);
        }
        check(ties(new double[] {0.5}, ""), new long[] {n}, n, new float[][] {base, x});
        check(ties(new double[] {0.5, 0.25}, "rescale: true"), new long[] {1300, 1000}, n,
                new float[][] {base, x, x.clone()});
    }

    @Test
    void bf16DeltasWithSomeWideOnesAreCutInOnePass() {
        // BF16 weights, a quarter of them tiny: most deltas have BF16's 8 significant bits, so the cut's
        // bucket is mostly its smallest value; the deltas at tiny weights have more, and land in
        // the bucket above it or among its larger values.
        Random rnd = new Random(17);
        int n = 200_003;
        float[] base = new float[n];
        float[][] tunes = new float[2][n];
        for (int i = 0; i < n; i++) {
            base[i] = bf16((float) (rnd.nextGaussian() * (rnd.nextInt(4) == 0 ? 1e-5 : 0.02)));
            for (float[] x : tunes) {
                x[i] = bf16(base[i] + (float) (rnd.nextGaussian() * 3e-4));
            }
        }
        for (double density : new double[] {0.1, 0.5, 0.9}) {
            check(ties(new double[] {density}, ""), new long[] {n}, n, new float[][] {base, tunes[0]});
            check(ties(new double[] {density, 0.4}, "rescale: true"), new long[] {n}, n,
                    new float[][] {base, tunes[0], tunes[1]});
        }
    }

    @Test
    void dareWithTheL1RescaleStreamedEqualsTheWholeTensorMerge() {
        Random rnd = new Random(13);
        int n = 70_001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, false), delta(rnd, base, true), delta(rnd, base, true)};
        for (String method : new String[] {"dare_ties", "dare_linear"}) {
            for (double[] density : new double[][] {{0.5}, {0.2, 0.9}, {0.5, 1.0, 0.0}, {1e-9, 0.7}}) {
                String yaml = ties(density, "").replace("merge_method: ties", "merge_method: " + method);
                check(yaml, new long[] {n}, n, Arrays.copyOf(inputs, density.length + 1));
            }
        }
    }

    @Test
    void breadcrumbsStreamedEqualsTheWholeTensorMerge() {
        Random rnd = new Random(19);
        int n = 70_001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, true), delta(rnd, base, false), delta(rnd, base, true)};
        String[] globals = {"", "gamma: 0.2", "gamma: 0.0", "gamma: 0.6, rescale: true",
            "rescale: true, rescale_mode: inverse_density"};
        for (String method : new String[] {"breadcrumbs", "breadcrumbs_ties"}) {
            for (double[] density : new double[][] {{0.9}, {0.5, 0.95}, {0.3, 1.0, 0.7}}) {
                for (String global : globals) {
                    String yaml = ties(density, global).replace("merge_method: ties", "merge_method: " + method);
                    check(yaml, new long[] {n}, n, Arrays.copyOf(inputs, density.length + 1));
                }
            }
        }
        // Nearly every magnitude ties: both boundaries fall inside the same run of equal values.
        int ties = 300_000;
        float[] flat = new float[ties];
        float[] x = new float[ties];
        for (int i = 0; i < ties; i++) {
            flat[i] = 0.5f;
            x[i] = i % 997 == 0 ? (float) (0.5 + rnd.nextGaussian()) : (rnd.nextBoolean() ? 0.625f : 0.375f);
        }
        for (String global : globals) {
            check(ties(new double[] {0.8}, global).replace("merge_method: ties", "merge_method: breadcrumbs"),
                    new long[] {ties}, ties, new float[][] {flat, x});
        }
    }

    @Test
    void dellaStreamedInChunksOfWholeRowsEqualsTheWholeTensorMerge() {
        Random rnd = new Random(31);
        long[] shape = {70, 1001};
        int n = 70 * 1001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, true), delta(rnd, base, false), delta(rnd, base, true)};
        String[] globals = {"", "epsilon: 0.05", "rescale: false", "rescale_mode: inverse_density, epsilon: 0.2"};
        for (String method : new String[] {"della", "della_linear"}) {
            for (double[] density : new double[][] {{0.5}, {0.3, 0.75}, {0.5, 1.0, 0.7}}) {
                for (String global : globals) {
                    String yaml = ties(density, global).replace("merge_method: ties", "merge_method: " + method);
                    check(yaml, shape, n, Arrays.copyOf(inputs, density.length + 1));
                    check(yaml, new long[] {n}, n, Arrays.copyOf(inputs, density.length + 1));
                }
            }
        }
    }

    @Test
    void ramplusAndArceeFusionStreamedEqualTheirWholeTensorMerge() {
        Random rnd = new Random(37);
        long[] shape = {1100, 1001};
        int n = 1100 * 1001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, true), delta(rnd, base, false), delta(rnd, base, true)};
        for (int i = 0; i < n; i += 3) {
            inputs[2][i] = base[i];
        }
        check("merge_method: ramplus_tl\nbase_model: base\nmodels: [{model: x1}, {model: x2}, {model: x3}]\n"
                + "parameters: {epsilon: 0.004}\n", shape, n, inputs);
        // Over a million elements: the quantiles come from a sample, drawn in index order.
        check("merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: x1}]\n", shape, n, inputs);
        int small = 70 * 1001;
        float[][] part = new float[2][];
        for (int k = 0; k < 2; k++) {
            part[k] = Arrays.copyOf(inputs[k], small);
        }
        check("merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: x1}]\n", new long[] {70, 1001},
                small, part);
    }

    @Test
    void sceStreamedEqualsTheWholeTensorMerge() {
        Random rnd = new Random(43);
        int n = 70_001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, true), delta(rnd, base, true), delta(rnd, base, false)};
        for (int i = 0; i < n; i += 5) {
            inputs[2][i] = inputs[1][i];
        }
        for (String topk : new String[] {"1.0", "0.5", "0.1", "0.0", "0.00001"}) {
            for (int models = 1; models <= 3; models++) {
                StringBuilder yaml = new StringBuilder("merge_method: sce\nbase_model: base\nmodels: [{model: base}");
                for (int k = 1; k <= models; k++) {
                    yaml.append(", {model: x").append(k).append('}');
                }
                yaml.append("]\nparameters: {select_topk: ").append(topk).append("}\n");
                check(yaml.toString(), new long[] {n}, n, Arrays.copyOf(inputs, models + 1));
            }
        }
    }

    @Test
    void slerpAndNuslerpStreamedEqualTheirWholeTensorMerge() {
        Random rnd = new Random(23);
        long[] shape = {70, 1001};
        int n = 70 * 1001;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, false), delta(rnd, base, true)};
        for (String t : new String[] {"0.3", "0.0", "1.0"}) {
            check("merge_method: slerp\nbase_model: base\nmodels: [{model: x1}, {model: base}]\n"
                    + "parameters: {t: " + t + "}\n", shape, n, inputs);
        }
        float[] twice = new float[n];
        for (int i = 0; i < n; i++) {
            twice[i] = 2 * base[i];
        }
        check("merge_method: slerp\nbase_model: base\nmodels: [{model: x1}, {model: base}]\nparameters: {t: 0.4}\n",
                shape, n, new float[][] {base, twice});
        for (String layout : new String[] {"{}", "{nuslerp_flatten: false}",
                "{nuslerp_flatten: false, nuslerp_row_wise: true}"}) {
            String models = "models: [{model: x1, parameters: {weight: 0.3}}, {model: x2, parameters: {weight: 0.6}}";
            check("merge_method: nuslerp\n" + models + "]\nparameters: " + layout + "\n", shape, n, inputs);
            check("merge_method: nuslerp\nbase_model: base\n" + models + ", {model: base}]\nparameters: " + layout
                    + "\n", shape, n, inputs);
        }
    }

    @Test
    void modelStockKarcherAndMultislerpStreamedEqualTheirWholeTensorMerge() {
        Random rnd = new Random(29);
        long[] shape = {33, 2049};
        int n = 33 * 2049;
        float[] base = Merges.random(rnd, n, 0.02);
        float[][] inputs = {base, delta(rnd, base, false), delta(rnd, base, true), delta(rnd, base, false)};
        String stock = "merge_method: model_stock\nbase_model: base\nmodels: [{model: x1}, {model: x2}, {model: x3},"
                + " {model: base}]\nparameters: ";
        check(stock + "{}\n", shape, n, inputs);
        check(stock + "{filter_wise: true}\n", shape, n, inputs);
        check("merge_method: karcher\nmodels: [{model: x1}, {model: x2}, {model: x3}]\n", shape, n, inputs);
        check("merge_method: karcher\nmodels: [{model: x2}]\n", shape, n, inputs);
        check("merge_method: karcher\nmodels: [{model: x1}, {model: x3}]\nparameters: {max_iter: 3, tol: 1e-9}\n",
                shape, n, inputs);
        String weights = "[{model: x1, parameters: {weight: 0.2}}, {model: x2, parameters: {weight: 0.5}},"
                + " {model: x3, parameters: {weight: 0.9}}";
        check("merge_method: multislerp\nmodels: " + weights + "]\n", shape, n, inputs);
        check("merge_method: multislerp\nbase_model: base\nmodels: " + weights + ", {model: base}]\n"
                + "parameters: {normalize_weights: false}\n", shape, n, inputs);
        check("merge_method: multislerp\nbase_model: base\nmodels: [{model: x2, parameters: {weight: 1}},"
                + " {model: base}]\n", shape, n, inputs);
    }

    @Test
    void elementwiseConfigsAndDellaBandsOutsideTheUnitIntervalAreNotStreamed() {
        TensorMerger whole = TensorMerger.create(Merges.config(ties(new double[] {1.0}, "")), 4);
        assertNull(whole.streamed("w", new long[] {10}, 42L));
        String dareInverse = "merge_method: dare_ties\nbase_model: base\nmodels: [{model: x1, parameters: {weight: 1,"
                + " density: 0.5}}]\nparameters: {rescale_mode: inverse_density}";
        assertNull(TensorMerger.create(Merges.config(dareInverse), 4).streamed("w", new long[] {10}, 42L));
        // The whole-tensor merge reports the band, naming the model.
        String della = "merge_method: della\nbase_model: base\nmodels: [{model: x1, parameters: {weight: 1, "
                + "density: 0.5, epsilon: 0.6}}]";
        assertNull(TensorMerger.create(Merges.config(della), 4).streamed("w", new long[] {10}, 42L));
    }

    private static String ties(double[] densities, String globals) {
        StringBuilder yaml = new StringBuilder("merge_method: ties\nbase_model: base\nmodels:\n");
        for (int k = 0; k < densities.length; k++) {
            yaml.append("  - {model: x").append(k + 1).append(", parameters: {weight: ").append(0.4 + 0.3 * k)
                    .append(", density: ").append(densities[k]).append("}}\n");
        }
        yaml.append("  - {model: base}\nparameters: {").append(globals).append("}\n");
        return yaml.toString();
    }

    /** Checks every chunk size. */
    private static void check(String yaml, long[] shape, int n, float[][] inputs) {
        TensorMerger merger = TensorMerger.create(Merges.config(yaml), 4);
        Map<String, float[]> byModel = new LinkedHashMap<>();
        for (String model : Merges.config(yaml).inputModels()) {
            byModel.put(model, inputs[model.equals("base") ? 0 : Integer.parseInt(model.substring(1))]);
        }
        float[] whole = merger.merge("w", shape, 0, byModel, 42L);
        float[][] ordered = byModel.values().toArray(new float[0][]);
        for (int chunk : CHUNKS) {
            StreamedMerge streamed = merger.streamed("w", shape, 42L);
            assertNotNull(streamed, yaml);
            assertArrayEquals(bits(whole), bits(stream(streamed, ordered, n, chunk)), yaml + "chunk " + chunk);
        }
    }

    /** Streams in chunks of about {@code size} elements: whole rows where the merge asks for them. */
    private static float[] stream(StreamedMerge streamed, float[][] inputs, int n, int size) {
        int row = streamed.rowLength();
        int chunk = Math.max(1, size / row) * row;
        while (streamed.needsPass()) {
            for (int off = 0; off < n; off += chunk) {
                int len = Math.min(chunk, n - off);
                streamed.observe(slice(inputs, off, len), off, len);
            }
            streamed.endPass();
        }
        float[] out = new float[n];
        for (int off = 0; off < n; off += chunk) {
            int len = Math.min(chunk, n - off);
            float[] merged = new float[chunk];
            streamed.merge(slice(inputs, off, len), off, len, merged);
            System.arraycopy(merged, 0, out, off, len);
        }
        return out;
    }

    private static float[][] slice(float[][] inputs, int off, int len) {
        float[][] out = new float[inputs.length][];
        for (int k = 0; k < inputs.length; k++) {
            out[k] = Arrays.copyOfRange(inputs[k], off, off + len);
        }
        return out;
    }

    /** A fine-tune of {@code base}; rounded to BF16 (8 significant bits), its deltas tie often. */
    private static float[] delta(Random rnd, float[] base, boolean bf16) {
        float[] x = new float[base.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = base[i] + (float) (rnd.nextGaussian() * 0.01);
            if (bf16) {
                x[i] = bf16(x[i]);
            }
        }
        return x;
    }

    /** {@code v} cut to BF16's bits (toward zero: rounding does not matter here). */
    private static float bf16(float v) {
        return Float.intBitsToFloat(Float.floatToRawIntBits(v) & 0xFFFF0000);
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }
}
