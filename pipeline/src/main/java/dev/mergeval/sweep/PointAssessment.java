package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How one point measures against the aligned model and its fine-tune; the ratios are defined in
 * {@link Selector} and are NaN where undefined.
 *
 * @param withinTolerance its refusal rate is at least the aligned model's minus the tolerance
 * @param meetsGoal       both retention ratios reach the goal's minimums
 * @param onFrontier      it is on the Pareto frontier of refusal against task score
 */
public record PointAssessment(@JsonProperty("point_id") String pointId,
                              @JsonProperty("refusal_retention") double refusalRetention,
                              @JsonProperty("task_gain_retention") double taskGainRetention,
                              @JsonProperty("within_tolerance") boolean withinTolerance,
                              @JsonProperty("meets_goal") boolean meetsGoal,
                              @JsonProperty("on_frontier") boolean onFrontier) {
}
