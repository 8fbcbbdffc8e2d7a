package dev.mergeval.toy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.mergeval.runtime.llama.KvCache;
import dev.mergeval.runtime.llama.LlamaForward;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Greedy decoding over {@link LlamaForward} for checking the toy models while training them (the
 * runtime's {@code LanguageModel.generate} needs a model directory; this works on the parameters in
 * memory). Prompts are left-padded with an attention mask, so each row sees exactly its own tokens
 * and positions; after the prompt, each step feeds one token per row through the KV cache.
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
        int width = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        long[] ids = new long[rows * width];
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            int pad = width - p.length;
            for (int t = 0; t < p.length; t++) {
                ids[r * width + pad + t] = p[t];
            }
        }
        List<List<Integer>> outs = new ArrayList<>(rows);
        for (int r = 0; r < rows; r++) {
            outs.add(new ArrayList<>());
        }
        boolean[] done = new boolean[rows];
        try (NDManager scope = manager.newSubManager()) {
            NDArray fullMask = maskOf(scope, prompts, width, maxNewTokens);
            NDArray input = scope.create(ids, new Shape(rows, width));
            KvCache cache = null;
            for (int step = 0; step < maxNewTokens; step++) {
                long seen = width + step;
                NDArray stepMask = fullMask.get(new NDIndex(":, :{}", seen));
                LlamaForward.Output out = forward.forward(params, input, stepMask, cache, false);
                cache = out.cache();
                long[] next = out.logits().argMax(-1).toLongArray();
                boolean all = true;
                for (int r = 0; r < rows; r++) {
                    if (!done[r] && next[r] == eosId) {
                        done[r] = true;
                    } else if (!done[r]) {
                        outs.get(r).add(Math.toIntExact(next[r]));
                    }
                    all &= done[r];
                }
                if (all) {
                    break;
                }
                input = scope.create(next, new Shape(rows, 1));
            }
        }
        List<int[]> result = new ArrayList<>(rows);
        for (List<Integer> o : outs) {
            result.add(o.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
    }

    /** {@code [rows, width + maxNew]}: 0 for each row's left padding, 1 for its prompt and every new position. */
    private static NDArray maskOf(NDManager scope, List<int[]> prompts, int width, int maxNew) {
        int cols = width + maxNew;
        long[] mask = new long[prompts.size() * cols];
        for (int r = 0; r < prompts.size(); r++) {
            for (int c = width - prompts.get(r).length; c < cols; c++) {
                mask[r * cols + c] = 1;
            }
        }
        return scope.create(mask, new Shape(prompts.size(), cols));
    }
}
