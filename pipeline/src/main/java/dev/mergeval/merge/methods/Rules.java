package dev.mergeval.merge.methods;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.TensorParams;

/** Config rules shared by several methods. */
final class Rules {
    private Rules() {
    }

    /**
     * Whether weights that a method divides by their sum sum to zero as mergekit sums them, in
     * float32 and in order ({@code 0.1 + 0.2 - 0.3} is 0 there, 5.6e-17 in double), where they are
     * normal floats ({@link #normalFloats}), or in double.
     */
    static boolean sumToZero(double[] weights) {
        float single = 0;
        double sum = 0;
        for (double w : weights) {
            single += (float) w;
            sum += w;
        }
        return normalFloats(weights) && single == 0 || sum == 0;
    }

    /**
     * Whether every weight is zero or a normal float32 of magnitude at most 2^100, so that sums of
     * them in float32 neither underflow nor overflow: mergekit's zero tests on such sums are then
     * taken (deviation 1); other weights are used in double alone.
     */
    static boolean normalFloats(double[] weights) {
        for (double w : weights) {
            if (w != 0 && !(Math.abs(w) >= 0x1p-126 && Math.abs(w) <= 0x1p100)) {
                return false;
            }
        }
        return true;
    }

    static String requireBase(MergeConfig config, String method) {
        return config.baseModel().orElseThrow(() -> config.error("base_model", "required by " + method));
    }

    /** The two-point methods' shape: {@code base_model} and exactly one other model. */
    static void requirePair(MergeConfig config, String method) {
        requireBase(config, method);
        if (others(config) != 1) {
            throw config.error("models", method + " takes exactly two models, base_model and one other (got "
                    + config.inputModels().size() + ")");
        }
    }

    /**
     * The post-hoc safety methods' shape: {@code base_model} the aligned model and exactly one other
     * model, the fine-tune.
     */
    static void requireFineTune(MergeConfig config, String method) {
        String base = requireBase(config, method);
        if (others(config) != 1 || config.models().stream().anyMatch(m -> m.model().equals(base))) {
            throw config.error("models", method + " takes exactly one model, the fine-tune of base_model"
                    + " (the aligned model), and not base_model itself");
        }
    }

    /** Position of the one model that is not the base in a {@link #requireFineTune} config. */
    static int fineTuneIndex(MergeRequest r) {
        return fineTuneIndex(r.baseIndex());
    }

    /** Position of the one model that is not the base at {@code baseIndex}, of two. */
    static int fineTuneIndex(int baseIndex) {
        return baseIndex == 0 ? 1 : 0;
    }

    /**
     * The kernel of a post-hoc method on a tensor it leaves as the fine-tune: the fine-tune's floats,
     * copied, as its {@code merge} gives them ({@code post.clone()}).
     */
    static ElementwiseKernel fineTuneCopy(TensorParams params) {
        int post = fineTuneIndex(params.baseIndex());
        return (x, n, out) -> System.arraycopy(x[post], 0, out, 0, n);
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

    /** Positions of the models other than the base ({@code baseIndex}, or -1) among {@code models}. */
    static int[] otherIndices(int models, int baseIndex) {
        int[] out = new int[models - (baseIndex >= 0 ? 1 : 0)];
        for (int k = 0, j = 0; k < models; k++) {
            if (k != baseIndex) {
                out[j++] = k;
            }
        }
        return out;
    }

    /**
     * A whole-number parameter (mergekit declares it {@code int}): throws bad input naming the
     * tensor and the parameter when the resolved value has a fraction.
     */
    static int wholeNumber(TensorParams params, String parameter) {
        double v = params.global().number(parameter);
        if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
            throw new BadInputException(params.tensorName() + ": parameters." + parameter
                    + " must be a whole number (got " + v + ")");
        }
        return (int) v;
    }
}
