package dev.mergeval.serve;

import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The text deltas of one streamed generation. Each token re-decodes the output so far (after its
 * prompt, as the final text is); what is sent
 * stops short of a trailing incomplete UTF-8 sequence (U+FFFD) and of the last
 * {@code longest stop string - 1} characters, which could still begin a stop string that the
 * runtime would cut, and of any stop string already there. The final text (the runtime's, stop string removed) sends the rest, so the
 * deltas always add up to the non-streamed answer.
 */
final class StreamText {

    private final ModelTokenizer tokenizer;
    private final int[] prompt;
    private final List<String> stops;
    private final int holdBack;
    private final List<Integer> output = new ArrayList<>();
    private String sent = "";

    StreamText(ModelTokenizer tokenizer, int[] prompt, List<String> stops) {
        this.tokenizer = tokenizer;
        this.prompt = prompt.clone();
        this.stops = stops;
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** The delta that token {@code token} makes safe to send (may be empty). */
    String next(int token) {
        output.add(token);
        String text = tokenizer.decodeAfter(prompt, output.stream().mapToInt(Integer::intValue).toArray());
        int end = text.length();
        while (end > 0 && text.charAt(end - 1) == '\uFFFD') {
            end--;
        }
        end = Math.min(end, text.length() - holdBack);
        for (String stop : stops) {
            int at = text.indexOf(stop);
            if (at >= 0) {
                end = Math.min(end, at);
            }
        }
        if (end > 0 && Character.isHighSurrogate(text.charAt(end - 1))) {
            end--;
        }
        if (end <= sent.length() || !text.startsWith(sent)) {
            return "";
        }
        String delta = text.substring(sent.length(), end);
        sent = text.substring(0, end);
        return delta;
    }

    /** What is left of {@code finalText} after the deltas sent. */
    String finish(String finalText) {
        String rest = finalText.startsWith(sent) ? finalText.substring(sent.length()) : "";
        sent = finalText;
        return rest;
    }
}
