package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Whether the sweep reached its {@link Goal}, where, and by how much.
 *
 * @param state                   reached, not reached, or undefined (no aligned refusal or no task
 *                                gain to retain; the explanation says which)
 * @param pointId                 where reached (the recommended point if it meets the goal, else the
 *                                best goal-meeting point by the selection order); if not reached, the
 *                                closest point (largest {@code min(RR / minRR, TGR / minTGR)}); null
 *                                if undefined
 * @param refusalRetention        RR at {@code pointId}
 * @param taskGainRetention       TGR at {@code pointId}
 * @param chosenMeetsGoal         whether the recommended point itself meets the goal
 * @param explanation             the status in plain words, with the numbers
 */
public record GoalStatus(@JsonProperty("state") State state,
                         @JsonProperty("point_id") String pointId,
                         @JsonProperty("refusal_retention") double refusalRetention,
                         @JsonProperty("task_gain_retention") double taskGainRetention,
                         @JsonProperty("min_refusal_retention") double minRefusalRetention,
                         @JsonProperty("min_task_gain_retention") double minTaskGainRetention,
                         @JsonProperty("chosen_meets_goal") boolean chosenMeetsGoal,
                         @JsonProperty("explanation") String explanation) {

    /** The goal's outcome. */
    public enum State {
        REACHED, NOT_REACHED, UNDEFINED;

        @JsonValue
        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
