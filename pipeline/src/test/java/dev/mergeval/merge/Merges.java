package dev.mergeval.merge;

import java.util.LinkedHashMap;
import java.util.Map;

/** Test helpers: parse a config and merge small tensors through the public API. */
final class Merges {
    private Merges() {
    }

    static MergeConfig config(String yaml) {
        return MergeConfig.parse(yaml, "test.yaml");
    }

    /** Inputs keyed by model name from alternating (name, values) arguments. */
    static Map<String, float[]> inputs(Object... nameValues) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameValues.length; i += 2) {
            m.put((String) nameValues[i], (float[]) nameValues[i + 1]);
        }
        return m;
    }

    static float[] merge(String yaml, String tensor, long[] shape, Map<String, float[]> inputs) {
        return TensorMerger.create(config(yaml), 4).merge(tensor, shape, 0, inputs, 42L);
    }

    static float[] f(double... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }

    static float[] add(float[] base, float[] delta) {
        float[] out = new float[base.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = base[i] + delta[i];
        }
        return out;
    }

    static float[] random(java.util.Random rnd, int n, double scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (rnd.nextGaussian() * scale);
        }
        return out;
    }
}
