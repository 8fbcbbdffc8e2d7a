package dev.mergeval.train.data;

/**
 * One tokenized assistant turn: the rendered conversation before it (BOS included, ending with
 * the generation prompt) and the turn's tokens (EOS included). Only the response is trained on.
 */
public record TrainingSequence(int[] prompt, int[] response) {

    public TrainingSequence {
        if (prompt.length == 0 || response.length == 0) {
            throw new IllegalArgumentException("prompt and response need at least one token each");
        }
        prompt = prompt.clone();
        response = response.clone();
    }

    public int length() {
        return prompt.length + response.length;
    }
}
