package dev.mergeval.runtime;

import java.util.List;

/**
 * One generated continuation: the decoded text (stop string removed), the prompt and output token
 * ids, why decoding ended ({@code eos}, {@code stop}, {@code length}), and decode time.
 */
public record Completion(
        String text,
        List<Integer> promptIds,
        List<Integer> outputIds,
        String finishReason,
        long latencyNanos) {

    public Completion {
        promptIds = List.copyOf(promptIds);
        outputIds = List.copyOf(outputIds);
    }
}
