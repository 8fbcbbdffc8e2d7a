package dev.mergeval.merge.methods;

import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Shapes;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import java.util.Arrays;
import java.util.List;

/**
 * Arcee Fusion, as mergekit's {@code arcee_fusion.py}: with {@code b} the base model and {@code x}
 * the one other model, per row (the last dimension; a 1-D tensor is one row)
 * {@code p = softmax(x_row) + 1e-8}, {@code q = softmax(b_row) + 1e-8},
 * {@code kl_row = sum p log(p / q)}, and per element the importance {@code s_i = |x_i - b_i| kl_row}.
 * The threshold is {@code median + 1.5 (q3 - q1)} of the importances (in float, as mergekit), the
 * quantile {@code q} being the element of ascending rank {@code floor(q (n - 1))};
 * {@code y = b + (x - b)} (in float) where {@code s_i >= threshold}, else {@code b}. No parameters.
 *
 * <p>Like mergekit, a tensor of more than {@value #SAMPLE} elements takes its quantiles from a
 * uniform sample of {@value #SAMPLE} of them without replacement; mergekit draws it with
 * {@code torch.randperm} from the global torch stream, Mergeval by selection sampling (Knuth's
 * algorithm S) on {@link KeyedRandom} keyed by the seed and the tensor name, so the same seed gives
 * the same output. Streamed over chunks of whole rows: one pass for the sample, one for the output.
 * https://www.arcee.ai/blog/meet-mergekit-v0-1-arcee-fusion-expanded-model-support-multi-gpu-acceleration
 */
public final class ArceeFusionMerge implements MergeMethod {
    static final int SAMPLE = 1_000_000;
    private static final double EPS = 1e-8;

    @Override
    public String name() {
        return "arcee_fusion";
    }

    @Override
    public String referenceUrl() {
        return "https://www.arcee.ai/blog/meet-mergekit-v0-1-arcee-fusion-expanded-model-support-multi-gpu-acceleration";
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of();
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    /** Mergekit's arcee_fusion returns a lone tensor before it looks for the base. */
    @Override
    public boolean keepsALoneModel(MergeConfig config) {
        return true;
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requirePair(config, name());
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return false;
    }

    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return new Streamed(params, shape, seed);
    }

    @Override
    public float[] merge(MergeRequest r) {
        return StreamedMerge.whole(new Streamed(r.params(), r.shape(), r.seed()), r.inputs());
    }

    /**
     * Over chunks of whole rows: one pass computing the importances and taking the sample in index
     * order, whose quantiles give the threshold; the merge computes the importances again.
     */
    private static final class Streamed implements StreamedMerge {
        private final int b;
        private final int t;
        private final long n;
        private final int cols;
        private final long key;
        private final float[] sample;
        private int taken;
        private float[] importance = new float[0];
        private final double[] ex;
        private final double[] eb;
        private boolean observed;
        private float threshold;

        Streamed(TensorParams params, long[] shape, long seed) {
            b = params.baseIndex();
            t = b == 0 ? 1 : 0;
            n = Shapes.numElements(shape);
            cols = Sparsifier.dellaRow(shape);
            key = KeyedRandom.counterKey(seed, params.tensorName(), 0);
            sample = new float[(int) Math.min(n, SAMPLE)];
            ex = new double[cols];
            eb = new double[cols];
        }

        @Override
        public int rowLength() {
            return Math.max(cols, 1);
        }

        @Override
        public boolean needsPass() {
            return !observed;
        }

        /** The importances of whole rows {@code [0, count)} (returned, valid up to {@code count}). */
        private float[] importances(float[] x, float[] base, int count) {
            if (importance.length < count) {
                importance = new float[count];
            }
            for (int from = 0; from < count; from += cols) {
                double kl = klDivergence(x, base, from, cols, ex, eb);
                for (int i = from; i < from + cols; i++) {
                    importance[i] = (float) (Math.abs(x[i] - base[i]) * kl);
                }
            }
            return importance;
        }

        /** All importances when there are at most {@link #SAMPLE}, else a uniform sample of that many (algorithm S). */
        @Override
        public void observe(float[][] inputs, long offset, int count) {
            float[] s = importances(inputs[t], inputs[b], count);
            for (int j = 0; j < count && taken < sample.length; j++) {
                long i = offset + j;
                if (n <= SAMPLE || KeyedRandom.uniform(key, i) * (n - i) < SAMPLE - taken) {
                    sample[taken++] = s[j];
                }
            }
        }

        @Override
        public void endPass() {
            observed = true;
            float[] sorted = taken == sample.length ? sample : Arrays.copyOf(sample, taken);
            Arrays.sort(sorted);
            long last = sorted.length - 1;
            // In float, as mergekit's float32 tensors: floor(q (n - 1)) is exact for n <= SAMPLE.
            float median = sorted[(int) (last / 2)];
            float q1 = sorted[(int) (last / 4)];
            float q3 = sorted[(int) (3 * last / 4)];
            threshold = median + 1.5f * (q3 - q1);
        }

        @Override
        public void merge(float[][] inputs, long offset, int count, float[] out) {
            if (!observed) {
                throw new IllegalStateException("merge before the importance pass");
            }
            float[] x = inputs[t];
            float[] base = inputs[b];
            float[] s = importances(x, base, count);
            for (int i = 0; i < count; i++) {
                out[i] = s[i] >= threshold ? base[i] + (x[i] - base[i]) : base[i];
            }
        }
    }

    /**
     * {@code sum p log(p / q)} over one row, {@code p, q} the softmaxes plus {@link #EPS};
     * {@code ex} and {@code eb} are scratch of at least {@code len}.
     */
    private static double klDivergence(float[] x, float[] b, int from, int len, double[] ex, double[] eb) {
        double maxX = Double.NEGATIVE_INFINITY;
        double maxB = Double.NEGATIVE_INFINITY;
        for (int i = from; i < from + len; i++) {
            maxX = Math.max(maxX, x[i]);
            maxB = Math.max(maxB, b[i]);
        }
        double sumX = 0;
        double sumB = 0;
        for (int j = 0; j < len; j++) {
            ex[j] = Math.exp(x[from + j] - maxX);
            eb[j] = Math.exp(b[from + j] - maxB);
            sumX += ex[j];
            sumB += eb[j];
        }
        double kl = 0;
        for (int j = 0; j < len; j++) {
            double p = ex[j] / sumX + EPS;
            double q = eb[j] / sumB + EPS;
            kl += p * Math.log(p / q);
        }
        return kl;
    }
}
