package dev.mergeval.runtime.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.llama.KvCache;
import dev.mergeval.runtime.llama.LlamaForward;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * Batched autoregressive decoding with a KV cache. Prompts of different lengths are left-padded
 * (the attention mask hides the padding and RoPE positions skip it, so each row computes what it
 * would alone); each row samples with its own {@link TokenSampler} and stops on its own at an EOS
 * token, a stop string, or its token budget. Rows that finished keep their slot until the whole
 * batch ends (their outputs are no longer read). Each row may have its own {@link GenerationParams}
 * (a server batches requests that asked for different settings), and a {@link TokenListener} sees
 * every token as it is chosen (streaming) and each row's completion as soon as the row ends.
 */
public final class BatchGenerator {

    private final LlamaForward forward;
    private final Map<String, NDArray> weights;
    private final Set<Integer> eosIds;
    private final BiFunction<int[], int[], String> decoder;

    /**
     * @param decoder the text of generated ids after their prompt's, {@code (prompt, output)}
     *     (special tokens skipped), for stop strings and the result
     */
    public BatchGenerator(LlamaForward forward, Map<String, NDArray> weights, Set<Integer> eosIds,
            BiFunction<int[], int[], String> decoder) {
        this.forward = forward;
        this.weights = weights;
        this.eosIds = Set.copyOf(eosIds);
        this.decoder = decoder;
    }

    /** Sees each token of a batch as it is chosen. */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * Called on the generating thread after row {@code row} chose {@code token}.
         *
         * @param logits that step's next-token logits of the row (after any repetition penalty; do not keep)
         * @param finishReason {@code eos}, {@code stop} or {@code length} if this token ended the row, else null
         */
        void onToken(int row, int token, float[] logits, String finishReason);

        /**
         * Called on the generating thread when row {@code row} has ended, before the batch does,
         * with its completion (its latency is the time to this row's end; the list
         * {@link #generate} returns has the whole batch's).
         */
        default void onFinish(int row, Completion completion) {
        }
    }

    /**
     * Generates one continuation per prompt, all in one batch.
     *
     * @param prompts token ids (BOS included where the model wants it), at least one token each
     * @param streamKeys per-prompt keys for the samplers' random streams
     */
    public List<Completion> generate(NDManager manager, List<int[]> prompts, long[] streamKeys, GenerationParams params) {
        return generate(manager, prompts, streamKeys, Collections.nCopies(prompts.size(), params), null);
    }

    /**
     * Generates one continuation per prompt, all in one batch, row {@code b} with {@code params.get(b)};
     * {@code listener} (may be null) sees every token. A row's tokens do not depend on the other rows.
     */
    public List<Completion> generate(NDManager manager, List<int[]> prompts, long[] streamKeys,
            List<GenerationParams> params, TokenListener listener) {
        if (params.size() != prompts.size()) {
            throw new IllegalArgumentException(params.size() + " settings for " + prompts.size() + " prompts");
        }
        long start = System.nanoTime();
        int batch = prompts.size();
        int maxPrompt = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        int maxPositions = forward.config().maxPositionEmbeddings();
        Row[] rows = new Row[batch];
        int steps = 0;
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            if (p.length == 0) {
                throw new IllegalArgumentException("prompt " + b + " has no tokens");
            }
            forward.checkTokenIds(p, "prompt");
            GenerationParams rowParams = params.get(b);
            int budget = Math.max(0, Math.min(rowParams.maxNewTokens(), maxPositions - p.length));
            rows[b] = new Row(p, budget, rowParams.stopStrings(), new TokenSampler(rowParams, streamKeys[b], p));
            steps = Math.max(steps, budget);
        }
        if (steps == 0) {
            return finish(rows, start);
        }
        long[] ids = new long[batch * maxPrompt];
        long[] mask = new long[batch * maxPrompt];
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            int pad = maxPrompt - p.length;
            for (int i = 0; i < p.length; i++) {
                ids[b * maxPrompt + pad + i] = p[i];
                mask[b * maxPrompt + pad + i] = 1;
            }
        }
        // without left padding the mask is all ones: pass none and skip the masking ops
        boolean padded = prompts.stream().anyMatch(p -> p.length != maxPrompt);
        try (NDManager loop = manager.newSubManager()) {
            KvCache cache = null;
            int width = maxPrompt;
            for (int step = 0; step < steps; step++) {
                DecodeStep.Result result = DecodeStep.run(forward, weights, loop, ids, batch, padded ? mask : null, cache);
                cache = result.cache();
                boolean anyOpen = false;
                long[] next = new long[batch];
                for (int b = 0; b < batch; b++) {
                    Row row = rows[b];
                    if (row.finishReason == null) {
                        int token = row.sampler.next(result.logits()[b]);
                        row.accept(token, eosIds, decoder);
                        next[b] = token;
                        if (listener != null) {
                            listener.onToken(b, token, result.logits()[b], row.finishReason);
                            if (row.finishReason != null) {
                                listener.onFinish(b, completion(row, System.nanoTime() - start));
                            }
                        }
                    }
                    anyOpen |= row.finishReason == null;
                }
                if (!anyOpen) {
                    break;
                }
                ids = next;
                long[] grown = new long[batch * (width + 1)];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(mask, b * width, grown, b * (width + 1), width);
                    grown[b * (width + 1) + width] = 1;
                }
                mask = grown;
                width++;
            }
        }
        return finish(rows, start);
    }

    private List<Completion> finish(Row[] rows, long start) {
        long elapsed = System.nanoTime() - start;
        List<Completion> out = new ArrayList<>();
        for (Row row : rows) {
            out.add(completion(row, elapsed));
        }
        return out;
    }

    private Completion completion(Row row, long elapsed) {
        if (row.finishReason == null) {
            row.finishReason = "length";
        }
        int[] output = row.output();
        // The EOS token ends the text whether or not the tokenizer calls it special.
        int[] said = "eos".equals(row.finishReason) ? Arrays.copyOf(output, output.length - 1) : output;
        String text = row.stopText != null ? row.stopText : decoder.apply(row.prompt, said);
        return new Completion(text, box(row.prompt), box(output), row.finishReason, elapsed);
    }

    private static List<Integer> box(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    /** Decoding state of one sequence. */
    private static final class Row {
        final int[] prompt;
        final int budget;
        final List<String> stops;
        final TokenSampler sampler;
        int[] generated = new int[16];
        int count;
        String finishReason;
        String stopText;

        Row(int[] prompt, int budget, List<String> stops, TokenSampler sampler) {
            this.prompt = prompt;
            this.budget = budget;
            this.stops = stops;
            this.sampler = sampler;
            if (budget == 0) {
                finishReason = "length";
            }
        }

        int[] output() {
            return Arrays.copyOf(generated, count);
        }

        void accept(int token, Set<Integer> eos, BiFunction<int[], int[], String> decoder) {
            if (count == generated.length) {
                generated = Arrays.copyOf(generated, count * 2);
            }
            generated[count++] = token;
            if (eos.contains(token)) {
                finishReason = "eos";
                return;
            }
            if (!stops.isEmpty()) {
                String text = decoder.apply(prompt, output());
                int cut = -1;
                for (String s : stops) {
                    int at = text.indexOf(s);
                    if (at >= 0 && (cut < 0 || at < cut)) {
                        cut = at;
                    }
                }
                if (cut >= 0) {
                    finishReason = "stop";
                    stopText = text.substring(0, cut);
                    return;
                }
            }
            if (count >= budget) {
                finishReason = "length";
            }
        }
    }
}
