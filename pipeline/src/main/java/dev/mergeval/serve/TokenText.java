package dev.mergeval.serve;

import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tokens as text for {@code logprobs} and streaming, and log-probabilities from raw logits.
 *
 * <p>A token's piece is what it adds to the decoded text, found as vLLM's incremental detokenizer
 * does: decode a short window before the token with and without it and take the difference (a
 * SentencePiece token decodes differently at the start of a text than after another token), and
 * hold a piece back while the text ends in an incomplete UTF-8 sequence (U+FFFD). The pieces of a
 * sequence therefore concatenate to its decoded text, and {@code text_offset}s are their running
 * lengths.
 */
final class TokenText {

    private TokenText() {
    }

    /**
     * The pieces of {@code ids[from..]}, given {@code ids[..from)} before them.
     *
     * @param skipSpecial leave special tokens (EOS, ...) out of the text, as generated text does;
     *     otherwise they appear as their token strings, as in a prompt that names them
     */
    static List<String> pieces(ModelTokenizer tokenizer, int[] ids, int from, boolean skipSpecial) {
        List<String> out = new ArrayList<>();
        int prefix = Math.max(0, from - ModelTokenizer.CONTEXT_WINDOW);
        int read = from;
        for (int i = from; i < ids.length; i++) {
            String before = tokenizer.decode(Arrays.copyOfRange(ids, prefix, read), skipSpecial);
            String now = tokenizer.decode(Arrays.copyOfRange(ids, prefix, i + 1), skipSpecial);
            if (now.length() > before.length() && !now.endsWith("\uFFFD") && now.startsWith(before)) {
                out.add(now.substring(before.length()));
                prefix = read;
                read = i + 1;
            } else {
                out.add("");
            }
        }
        return out;
    }

    /**
     * The text token {@code candidate} would add at position {@code at} of {@code ids}, after the
     * tokens {@code ids[from..at)} (the same context the pieces are decoded in), special tokens as
     * their token strings: the label of an alternative in {@code top_logprobs}.
     */
    static String alternative(ModelTokenizer tokenizer, int[] ids, int from, int at, int candidate) {
        return tokenizer.decodeAfter(Arrays.copyOfRange(ids, from, at), new int[] {candidate}, false);
    }

    /** Log-probability of one token and the most likely ones, for one position. */
    record Position(int token, float logProb, int[] topIds, float[] topLogProbs) {
    }

    /** {@code log softmax(logits)}, read at {@code token} and at the {@code topK} largest entries. */
    static Position fromLogits(float[] logits, int token, int topK) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        double logZ = max + Math.log(sum);
        int k = Math.min(topK, logits.length);
        int[] topIds = new int[k];
        float[] topLps = new float[k];
        // selection of the k largest, k small (0: none): insertion into a sorted prefix
        int filled = 0;
        for (int i = 0; k > 0 && i < logits.length; i++) {
            float l = logits[i];
            if (filled < k || l > logits[topIds[filled - 1]]) {
                int at = Math.min(filled, k - 1);
                while (at > 0 && logits[topIds[at - 1]] < l) {
                    topIds[at] = topIds[at - 1];
                    at--;
                }
                topIds[at] = i;
                filled = Math.min(filled + 1, k);
            }
        }
        for (int j = 0; j < k; j++) {
            topLps[j] = (float) (logits[topIds[j]] - logZ);
        }
        return new Position(token, (float) (logits[token] - logZ), topIds, topLps);
    }
}
