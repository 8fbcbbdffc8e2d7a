package dev.mergeval.merge;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.io.Serializable;
import java.util.Map;

/**
 * What a method's plan-time analysis ({@link MergeMethod#analyze}) decided for one tensor, shipped
 * to wherever the tensor is merged ({@link MergeRequest#decision()}) so that no executor repeats
 * the analysis.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "method")
public interface TensorDecision extends Serializable {

    /** The decision as the merge provenance records it: numbers, booleans and strings by name. */
    @JsonIgnore
    Map<String, Object> provenance();
}
