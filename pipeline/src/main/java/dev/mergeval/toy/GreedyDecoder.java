package dev.mergeval.toy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.mergeval.runtime.llama.LlamaForward;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Greedy decoding over {@link LlamaForward} for checking the toy models while training them (the
 * runtime's {@code LanguageModel.generate} needs a model directory; this works on the parameters in
 * memory). Prompts are left-padded with an attention mask, so each row sees exactly its own tokens
 * and positions; every step recomputes the whole (short) sequence, which keeps the loop trivially
 * correct at this model size.
 */
final class GreedyDecoder {

    private final LlamaForward forward;
    private final int eosId;

    GreedyDecoder(LlamaForward forward, int eosId) {
        this.forward = forward;
        this.eosId = eosId;
    }

    /** New token ids for each prompt (EOS excluded), at most {@code maxNewTokens} each. */
    List<int[]> generate(NDManager manager, Map<String, NDArray> params, List<int[]> prompts, int maxNewTokens) {
        int rows = prompts.size();
        List<List<Integer>> seqs = new ArrayList<>(rows);
        List<List<Integer>> outs = new ArrayList<>(rows);
        boolean[] done = new boolean[rows];
        for (int[] p : prompts) {
            List<Integer> s = new ArrayList<>();
            for (int id : p) {
                s.add(id);
            }
            seqs.add(s);
            outs.add(new ArrayList<>());
        }
        for (int step = 0; step < maxNewTokens; step++) {
            int width = seqs.stream().mapToInt(List::size).max().orElse(0);
            long[] ids = new long[rows * width];
            long[] mask = new long[rows * width];
            for (int r = 0; r < rows; r++) {
                List<Integer> s = seqs.get(r);
                int pad = width - s.size();
                for (int t = 0; t < s.size(); t++) {
                    ids[r * width + pad + t] = s.get(t);
                    mask[r * width + pad + t] = 1;
                }
            }
            int[] next;
            try (NDManager scope = manager.newSubManager()) {
                NDArray input = scope.create(ids, new Shape(rows, width));
                NDArray attention = scope.create(mask, new Shape(rows, width));
                NDArray logits = forward.forward(params, input, attention, null, false).logits();
                next = Arrays.stream(logits.argMax(-1).toLongArray()).mapToInt(Math::toIntExact).toArray();
            }
            boolean all = true;
            for (int r = 0; r < rows; r++) {
                if (done[r]) {
                    continue;
                }
                if (next[r] == eosId) {
                    done[r] = true;
                } else {
                    seqs.get(r).add(next[r]);
                    outs.get(r).add(next[r]);
                    all = false;
                }
            }
            if (all) {
                break;
            }
        }
        List<int[]> result = new ArrayList<>(rows);
        for (List<Integer> o : outs) {
            result.add(o.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
    }
}
