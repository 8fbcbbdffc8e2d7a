package dev.mergeval.runtime.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.mergeval.runtime.llama.LlamaForward;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Batched log-likelihood of continuations: one left-padded forward pass over
 * {@code context + continuation[:-1]}, then {@code sum_i log softmax(logits_{t_i - 1})[c_i]} over
 * the continuation tokens {@code c_i}, and whether each {@code c_i} is the argmax there (greedy).
 * {@link #tokenLogProbs} gives the same terms one by one for every token of whole sequences, with
 * each position's most likely tokens (what an OpenAI server's {@code echo} with {@code logprobs} returns).
 */
public final class BatchScorer {

    private final LlamaForward forward;
    private final Map<String, NDArray> params;

    public BatchScorer(LlamaForward forward, Map<String, NDArray> params) {
        this.forward = forward;
        this.params = params;
    }

    /** One request as token ids: a non-empty context (at least BOS) and a non-empty continuation. */
    public record Tokens(int[] context, int[] continuation) {
    }

    /** Log-likelihood and greedy flag of one continuation. */
    public record Score(double logProb, boolean greedy) {
    }

    public List<Score> score(NDManager manager, List<Tokens> requests) {
        int batch = requests.size();
        int width = 0;
        for (Tokens r : requests) {
            if (r.context().length == 0 || r.continuation().length == 0) {
                throw new IllegalArgumentException("context and continuation need at least one token each");
            }
            forward.checkTokenIds(r.context(), "context");
            forward.checkTokenIds(r.continuation(), "continuation");
            width = Math.max(width, r.context().length + r.continuation().length - 1);
        }
        long[] ids = new long[batch * width];
        long[] mask = new long[batch * width];
        long[] targets = new long[batch * width];
        for (int b = 0; b < batch; b++) {
            Tokens r = requests.get(b);
            int len = r.context().length + r.continuation().length - 1;
            int pad = width - len;
            for (int i = 0; i < len; i++) {
                ids[b * width + pad + i] = i < r.context().length
                        ? r.context()[i] : r.continuation()[i - r.context().length];
                mask[b * width + pad + i] = 1;
            }
            // the last continuation.length positions predict the continuation tokens
            for (int j = 0; j < r.continuation().length; j++) {
                targets[b * width + width - r.continuation().length + j] = r.continuation()[j];
            }
        }
        float[] logProbs;
        long[] argMax;
        try (NDManager scope = manager.newSubManager()) {
            NDArray input = scope.create(ids).reshape(batch, width);
            NDArray maskArr = scope.create(mask).reshape(batch, width);
            NDArray logits = forward.forward(params, input, maskArr, null, true).logits();
            NDArray target = scope.create(targets).reshape(batch, width, 1);
            logProbs = logits.logSoftmax(2).gather(target, 2).toType(DataType.FLOAT32, false).toFloatArray();
            argMax = logits.argMax(2).toType(DataType.INT64, false).toLongArray();
        }
        List<Score> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int n = requests.get(b).continuation().length;
            double sum = 0;
            boolean greedy = true;
            for (int p = width - n; p < width; p++) {
                sum += logProbs[b * width + p];
                greedy &= argMax[b * width + p] == targets[b * width + p];
            }
            out.add(new Score(sum, greedy));
        }
        return out;
    }

    /**
     * Per-token log-probabilities of one sequence: entry {@code i} is for token {@code i + 1} given
     * tokens {@code 0..i} (the first token has none), with that position's {@code topK} most likely
     * token ids and their log-probabilities, most likely first.
     */
    public record TokenLogProbs(float[] logProbs, int[][] topIds, float[][] topLogProbs) {
    }

    /**
     * {@link TokenLogProbs} of each sequence (at least two tokens each), in one left-padded forward pass.
     *
     * @param topK how many most likely tokens to return per position (0 for none)
     */
    public List<TokenLogProbs> tokenLogProbs(NDManager manager, List<int[]> sequences, int topK) {
        int batch = sequences.size();
        int width = 0;
        for (int[] s : sequences) {
            if (s.length < 2) {
                throw new IllegalArgumentException("a scored sequence needs at least two tokens");
            }
            width = Math.max(width, s.length - 1);
        }
        long[] ids = new long[batch * width];
        long[] mask = new long[batch * width];
        long[] targets = new long[batch * width];
        for (int b = 0; b < batch; b++) {
            int[] s = sequences.get(b);
            int pad = width - (s.length - 1);
            for (int i = 0; i < s.length - 1; i++) {
                ids[b * width + pad + i] = s[i];
                mask[b * width + pad + i] = 1;
                targets[b * width + pad + i] = s[i + 1];
            }
        }
        float[] logProbs;
        float[] topValues = new float[0];
        long[] topIndices = new long[0];
        try (NDManager scope = manager.newSubManager()) {
            NDArray input = scope.create(ids).reshape(batch, width);
            NDArray maskArr = scope.create(mask).reshape(batch, width);
            NDArray all = forward.forward(params, input, maskArr, null, true).logits().logSoftmax(2);
            NDArray target = scope.create(targets).reshape(batch, width, 1);
            logProbs = all.gather(target, 2).toType(DataType.FLOAT32, false).toFloatArray();
            if (topK > 0) {
                NDList top = all.topK(topK, 2, true, true);
                topValues = top.get(0).toType(DataType.FLOAT32, false).toFloatArray();
                topIndices = top.get(1).toType(DataType.INT64, false).toLongArray();
            }
        }
        List<TokenLogProbs> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int n = sequences.get(b).length - 1;
            int pad = width - n;
            float[] lp = new float[n];
            int[][] topIds = new int[n][topK];
            float[][] topLps = new float[n][topK];
            for (int i = 0; i < n; i++) {
                int at = b * width + pad + i;
                lp[i] = logProbs[at];
                for (int k = 0; k < topK; k++) {
                    topIds[i][k] = (int) topIndices[at * topK + k];
                    topLps[i][k] = topValues[at * topK + k];
                }
            }
            out.add(new TokenLogProbs(lp, topIds, topLps));
        }
        return out;
    }
}
