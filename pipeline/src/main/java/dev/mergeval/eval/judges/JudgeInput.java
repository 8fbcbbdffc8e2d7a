package dev.mergeval.eval.judges;

import java.util.Objects;

/** What a judge sees: the user prompt and the model's completion. */
public record JudgeInput(String prompt, String completion) {
    public JudgeInput {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(completion, "completion");
    }
}
