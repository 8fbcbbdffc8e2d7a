package dev.mergeval.eval.datasets;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One evaluation item.
 *
 * @param id       stable identifier (from the file, or {@code <file stem>-<row>} where it has none)
 * @param prompt   the text shown to the model (for n-shot tasks, including the shots)
 * @param answer   the gold answer: a free-text answer, a GSM8K solution, or for multiple choice
 *                 the 0-based index of the correct choice; {@code null} where there is none
 * @param category the breakdown key used in metrics ({@code "all"} where the file has none)
 * @param choices  the candidate continuations of a multiple-choice item, empty otherwise
 * @param fields   the remaining columns of the source row, kept for audit
 */
public record EvalExample(
        String id,
        String prompt,
        String answer,
        String category,
        List<String> choices,
        Map<String, String> fields) {

    /** The category of items whose source has none. */
    public static final String NO_CATEGORY = "all";

    public EvalExample {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(prompt, "prompt");
        category = category == null || category.isBlank() ? NO_CATEGORY : category;
        choices = List.copyOf(choices);
        fields = Map.copyOf(fields);
    }

    /** A prompt-only item (safety sets). */
    public static EvalExample prompt(String id, String prompt, String category, Map<String, String> fields) {
        return new EvalExample(id, prompt, null, category, List.of(), fields);
    }

    /** The gold choice index of a multiple-choice item. */
    public int goldIndex() {
        if (choices.isEmpty()) {
            throw new IllegalStateException("item " + id + " is not multiple choice");
        }
        return Integer.parseInt(answer);
    }
}
