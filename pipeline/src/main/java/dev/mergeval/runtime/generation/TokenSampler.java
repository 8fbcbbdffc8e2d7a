package dev.mergeval.runtime.generation;

import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.GenerationParams;
import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits, in Java, so that a sequence's choices
 * depend only on its own logits, history and seed, never on the batch it runs in. The logits
 * processors follow Hugging Face's {@code generate} in order:
 *
 * <ol>
 *   <li>repetition penalty ({@code RepetitionPenaltyLogitsProcessor}, CTRL paper): for every token
 *       already in the prompt or output, {@code l < 0 ? l * r : l / r};
 *   <li>greedy when {@code temperature == 0}: the first index of the maximum;
 *   <li>otherwise {@code l / temperature}; top-k keeps tokens whose logit is at least the k-th
 *       largest; top-p ({@code TopPLogitsWarper}) sorts ascending and drops tokens whose
 *       cumulative probability is {@code <= 1 - top_p}, always keeping the most likely one;
 *   <li>one draw {@code u ~ U[0,1)} from this sequence's own {@link SplittableRandom} picks the
 *       token by inverse CDF over the kept tokens in descending probability.
 * </ol>
 */
final class TokenSampler {

    private final GenerationParams params;
    private final SplittableRandom random;
    private final BitSet seen = new BitSet();

    /**
     * @param streamKey identifies the sequence (e.g. a hash of its prompt), so each prompt gets
     *     its own random stream from {@code params.seed()} regardless of batch position
     */
    public TokenSampler(GenerationParams params, long streamKey, int[] promptIds) {
        this.params = params;
        this.random = KeyedRandom.sampling(params.seed(), streamKey);
        for (int id : promptIds) {
            seen.set(id);
        }
    }

    /** Chooses the next token from {@code logits} (modified in place) and records it as seen. */
    public int next(float[] logits) {
        double penalty = params.repetitionPenalty();
        if (penalty != 1.0) {
            for (int id = seen.nextSetBit(0); id >= 0 && id < logits.length; id = seen.nextSetBit(id + 1)) {
                logits[id] = (float) (logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty);
            }
        }
        int token = params.temperature() == 0 ? argMax(logits) : sample(logits);
        seen.set(token);
        return token;
    }

    static int argMax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private int sample(float[] logits) {
        int n = logits.length;
        double t = params.temperature();
        double[] scaled = new double[n];
        for (int i = 0; i < n; i++) {
            scaled[i] = logits[i] / t;
        }
        boolean[] kept = new boolean[n];
        Arrays.fill(kept, true);
        int k = params.topK();
        if (k > 0 && k < n) {
            double[] sorted = scaled.clone();
            Arrays.sort(sorted);
            double kth = sorted[n - k];
            for (int i = 0; i < n; i++) {
                kept[i] = scaled[i] >= kth;
            }
        }
        // indices in descending order of logit (stable: lower index first on ties)
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(scaled[b], scaled[a]));
        double max = scaled[order[0]];
        double[] prob = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            prob[i] = kept[i] ? Math.exp(scaled[i] - max) : 0;
            sum += prob[i];
        }
        if (params.topP() < 1.0) {
            // ascending cumulative mass; drop while it stays <= 1 - top_p (HF TopPLogitsWarper)
            double cumulative = 0;
            for (int r = n - 1; r >= 1; r--) {
                int i = order[r];
                cumulative += prob[i] / sum;
                if (cumulative <= 1 - params.topP()) {
                    kept[i] = false;
                } else {
                    break;
                }
            }
            sum = 0;
            for (int i = 0; i < n; i++) {
                prob[i] = kept[i] ? prob[i] : 0;
                sum += prob[i];
            }
        }
        double u = random.nextDouble() * sum;
        double acc = 0;
        int last = order[0];
        for (int r = 0; r < n; r++) {
            int i = order[r];
            if (prob[i] == 0) {
                continue;
            }
            last = i;
            acc += prob[i];
            if (u < acc) {
                return i;
            }
        }
        return last;
    }
}
