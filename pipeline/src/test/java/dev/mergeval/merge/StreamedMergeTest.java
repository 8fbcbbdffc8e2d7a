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
    void elementwiseConfigsAndOtherSparsificationsAreNotStreamed() {
        TensorMerger whole = TensorMerger.create(Merges.config(ties(new double[] {1.0}, "")), 4);
        assertNull(whole.streamed("w", new long[] {10}));
        String della = "merge_method: della\nbase_model: base\nmodels: [{model: x1, parameters: {weight: 1, "
                + "density: 0.5}}]";
        assertNull(TensorMerger.create(Merges.config(della), 4).streamed("w", new long[] {10}));
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
            StreamedMerge streamed = merger.streamed("w", shape);
            assertNotNull(streamed, yaml);
            assertArrayEquals(bits(whole), bits(stream(streamed, ordered, n, chunk)), yaml + "chunk " + chunk);
        }
    }

    private static float[] stream(StreamedMerge streamed, float[][] inputs, int n, int chunk) {
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
