package dev.mergeval.runtime;

import java.util.List;

/**
 * One generated continuation: the decoded text (stop string removed), the prompt and output token
 * ids, why decoding ended ({@code eos}, {@code stop}, {@code length}), and decode time. A model
 * behind an API reports token counts, not ids ({@link #served}); a request that failed for good is
 * {@link #failed}, with its error, so that the caller records it instead of dropping it.
 *
 * @param promptTokens prompt length in tokens (the ids' count where ids are known)
 * @param outputTokens output length in tokens
 * @param error        why the request failed, or {@code null}
 */
public record Completion(
        String text,
        List<Integer> promptIds,
        List<Integer> outputIds,
        String finishReason,
        long latencyNanos,
        int promptTokens,
        int outputTokens,
        String error) {

    /** {@link #finishReason} of a failed request. */
    public static final String ERROR = "error";

    public Completion {
        promptIds = List.copyOf(promptIds);
        outputIds = List.copyOf(outputIds);
    }

    public Completion(String text, List<Integer> promptIds, List<Integer> outputIds, String finishReason,
                      long latencyNanos) {
        this(text, promptIds, outputIds, finishReason, latencyNanos, promptIds.size(), outputIds.size(), null);
    }

    /** A completion from a server that reports token counts only. */
    public static Completion served(String text, String finishReason, long latencyNanos, int promptTokens,
                                    int outputTokens) {
        return new Completion(text, List.of(), List.of(), finishReason, latencyNanos, promptTokens, outputTokens, null);
    }

    /** A request that failed after its retries. */
    public static Completion failed(String error, long latencyNanos) {
        return new Completion("", List.of(), List.of(), ERROR, latencyNanos, 0, 0, error);
    }

    public boolean failed() {
        return error != null;
    }
}
