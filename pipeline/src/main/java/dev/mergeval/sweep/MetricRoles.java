package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.common.BadInputException;

/**
 * Which measured metric plays which part; names are keys of {@link PointResult#metrics()} as the
 * eval suite produces them.
 *
 * @param safety      refusal rate on harmful prompts; higher is safer
 * @param overRefusal refusal rate on benign prompts (XSTest-style); lower is better; optional (null)
 * @param task        the downstream task score; higher is better
 */
public record MetricRoles(@JsonProperty("safety") String safety,
                          @JsonProperty("over_refusal") String overRefusal,
                          @JsonProperty("task") String task) {
    public MetricRoles {
        if (safety == null || safety.isBlank()) {
            throw new BadInputException("safety: required: the metric of refusals on harmful prompts");
        }
        if (task == null || task.isBlank()) {
            throw new BadInputException("task: required: the metric of the downstream task");
        }
        if (overRefusal != null && overRefusal.isBlank()) {
            throw new BadInputException("over_refusal: must be a metric name or left out");
        }
        if (safety.equals(task)) {
            throw new BadInputException("task: is the same metric as safety ('" + task + "')");
        }
    }
}
