package dev.mergeval.merge.methods;

import dev.mergeval.merge.MergeConfig;

/** Config rules shared by several methods. */
final class Rules {
    private Rules() {
    }

    static String requireBase(MergeConfig config, String method) {
        return config.baseModel().orElseThrow(() -> config.error("base_model", "required by " + method));
    }

    /** Models other than the base. */
    static int others(MergeConfig config) {
        return config.inputModels().size() - (config.baseModel().isPresent() ? 1 : 0);
    }

    /** Euclidean norm of {@code v} over {@code count} elements spaced {@code stride} from {@code from}. */
    static double norm(float[] v, int from, int count, int stride) {
        double s = 0;
        for (int j = 0, i = from; j < count; j++, i += stride) {
            s += (double) v[i] * v[i];
        }
        return Math.sqrt(s);
    }
}
