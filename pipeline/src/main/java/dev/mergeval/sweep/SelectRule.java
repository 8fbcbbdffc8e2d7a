package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.common.BadInputException;

/**
 * How the recommended point is chosen. The one rule, {@code max_task_within_refusal_tolerance}:
 * among points whose refusal rate is at least {@code refusal(aligned) - tolerance} (absolute),
 * the one with the highest task score; see {@link Selector} for ties.
 */
public record SelectRule(@JsonProperty("rule") String rule, @JsonProperty("tolerance") Double tolerance) {
    public static final String MAX_TASK_WITHIN_REFUSAL_TOLERANCE = "max_task_within_refusal_tolerance";
    public static final double DEFAULT_TOLERANCE = 0.05;

    public SelectRule {
        if (rule == null) {
            rule = MAX_TASK_WITHIN_REFUSAL_TOLERANCE;
        }
        if (!rule.equals(MAX_TASK_WITHIN_REFUSAL_TOLERANCE)) {
            throw new BadInputException("rule: unknown rule '" + rule + "' (supported: "
                    + MAX_TASK_WITHIN_REFUSAL_TOLERANCE + ")");
        }
        if (tolerance == null) {
            tolerance = DEFAULT_TOLERANCE;
        }
        if (!(tolerance >= 0 && tolerance <= 1)) {
            throw new BadInputException("tolerance: must be in [0, 1] (an absolute difference of rates), got "
                    + tolerance);
        }
    }

    public static SelectRule defaults() {
        return new SelectRule(null, null);
    }
}
