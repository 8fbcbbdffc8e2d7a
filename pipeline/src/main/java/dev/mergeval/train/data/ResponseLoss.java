package dev.mergeval.train.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.TorchMemory;
import java.util.List;
import java.util.Map;

/**
 * The training loss: negative log-likelihood of the response tokens (EOS included) of a batch of
 * right-padded sequences; prompt and padding positions carry no loss. Padding sits after each
 * sequence, so causal attention keeps it out of every scored position.
 *
 * @param sum the summed NLL, a scalar NDArray in the graph of the parameters
 * @param tokens how many tokens it sums over
 */
public record ResponseLoss(NDArray sum, int tokens) {

    /** The summed response NLL of {@code batch}; every array belongs to {@code scope}. */
    public static ResponseLoss of(NDManager scope, LlamaForward forward, Map<String, NDArray> params,
            List<TrainingSequence> batch) {
        int rows = batch.size();
        int time = batch.stream().mapToInt(TrainingSequence::length).max().orElseThrow() - 1;
        long[] inputs = new long[rows * time];
        long[] targets = new long[rows * time];
        float[] weights = new float[rows * time];
        int scored = 0;
        for (int r = 0; r < rows; r++) {
            TrainingSequence s = batch.get(r);
            int[] seq = new int[s.length()];
            System.arraycopy(s.prompt(), 0, seq, 0, s.prompt().length);
            System.arraycopy(s.response(), 0, seq, s.prompt().length, s.response().length);
            for (int t = 0; t + 1 < seq.length; t++) {
                inputs[r * time + t] = seq[t];
                targets[r * time + t] = seq[t + 1];
                // position t predicts token t + 1: score it when that token is part of the response
                if (t + 1 >= s.prompt().length) {
                    weights[r * time + t] = 1f;
                    scored++;
                }
            }
        }
        NDArray ids = scope.create(inputs, new Shape(rows, time));
        NDArray target = scope.create(targets, new Shape(rows, time, 1));
        NDArray weight = scope.create(weights, new Shape(rows, time));
        NDArray logProbs = forward.logits(params, ids).logSoftmax(-1);
        NDArray picked = logProbs.gather(target, 2).reshape(rows, time);
        return new ResponseLoss(picked.mul(weight).sum().neg(), scored);
    }

    /** The mean NLL per response token. */
    public NDArray mean() {
        return sum.div(TorchMemory.scalar(sum.getManager(), tokens));
    }
}
