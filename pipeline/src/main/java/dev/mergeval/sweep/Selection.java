package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The outcome of {@link Selector#select}: the recommended point and why, the goal's status, and
 * every point's standing.
 *
 * @param chosen        the recommended point's result
 * @param alignedRefusal the aligned model's refusal rate
 * @param refusalFloor  {@code refusal(aligned) - tolerance}: the lowest refusal rate eligible
 * @param eligible      how many points had a refusal rate at or above the floor and a task score
 * @param reason        why this point, in words with the numbers
 * @param assessments   per point id, in the order of the results given
 * @param frontier      ids of the Pareto-frontier points, by task score ascending
 */
public record Selection(@JsonProperty("chosen") PointResult chosen,
                        @JsonProperty("rule") String rule,
                        @JsonProperty("tolerance") double tolerance,
                        @JsonProperty("aligned_refusal") double alignedRefusal,
                        @JsonProperty("refusal_floor") double refusalFloor,
                        @JsonProperty("eligible") int eligible,
                        @JsonProperty("reason") String reason,
                        @JsonProperty("goal") GoalStatus goal,
                        @JsonProperty("assessments") Map<String, PointAssessment> assessments,
                        @JsonProperty("frontier") List<String> frontier) {
    public Selection {
        Objects.requireNonNull(chosen, "chosen");
        Objects.requireNonNull(goal, "goal");
        assessments = Collections.unmodifiableMap(new LinkedHashMap<>(assessments));
        frontier = List.copyOf(frontier);
    }

    public SweepPoint chosenPoint() {
        return chosen.point();
    }
}
