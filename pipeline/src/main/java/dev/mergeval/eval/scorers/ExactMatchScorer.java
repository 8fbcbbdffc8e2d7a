package dev.mergeval.eval.scorers;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.EvalExample;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * For generic JSONL with an {@code answer}: {@code exact_match} is true when the completion, with
 * surrounding whitespace removed, equals the answer likewise trimmed (case-sensitive);
 * {@code contains} is true when the lower-cased completion contains the lower-cased, trimmed answer.
 */
public final class ExactMatchScorer implements GenerationScorer {

    public static final String EXACT = "exact_match";
    public static final String CONTAINS = "contains";

    @Override
    public List<String> metrics() {
        return List.of(EXACT, CONTAINS);
    }

    @Override
    public Map<String, Boolean> score(EvalExample example, String completion) {
        String answer = example.answer();
        if (answer == null || answer.isBlank()) {
            throw new BadInputException("item " + example.id() + " has no answer to match");
        }
        String a = answer.strip();
        return Map.of(EXACT, completion.strip().equals(a),
                CONTAINS, completion.toLowerCase(Locale.ROOT).contains(a.toLowerCase(Locale.ROOT)));
    }
}
