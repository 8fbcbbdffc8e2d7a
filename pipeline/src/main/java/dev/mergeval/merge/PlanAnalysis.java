package dev.mergeval.merge;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.jsontype.NamedType;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Sha256;
import dev.mergeval.merge.methods.SafeLoraMerge;
import dev.mergeval.merge.methods.SpfProjectMerge;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The result of a method's plan-time analysis ({@link MergeMethod#analyze}): a decision per tensor
 * (only for the tensors it concerns) and a summary of the whole, both recorded in the merge
 * provenance. Serializable, so it travels in the plan to the executors, and written as JSON where it
 * is kept on disk ({@link #toJson}, {@link #fromJson}): a file is parsed into the known decision
 * types only, never deserialized as Java objects.
 *
 * @param decisions per tensor name, in output order
 * @param summary plain values (numbers, booleans, strings, lists of them) by name
 */
public record PlanAnalysis(Map<String, TensorDecision> decisions, Map<String, Object> summary)
        implements Serializable {

    private static final long serialVersionUID = 1L;

    /** No analysis: what every method without one gets. */
    public static final PlanAnalysis NONE = new PlanAnalysis(Map.of(), Map.of());

    /** Sorted keys, so that equal analyses are equal text; the decision types by method name. */
    private static final ObjectMapper JSON = Mappers.canonical()
            .registerSubtypes(new NamedType(SafeLoraMerge.Decision.class, "safe_lora"),
                    new NamedType(SpfProjectMerge.Decision.class, "spf_project"))
            .build();

    public PlanAnalysis {
        decisions = Collections.unmodifiableMap(new LinkedHashMap<>(decisions));
        summary = Collections.unmodifiableMap(new LinkedHashMap<>(summary));
    }

    @JsonIgnore
    public boolean isEmpty() {
        return decisions.isEmpty() && summary.isEmpty();
    }

    /** The decision for {@code tensor}, or null when the analysis made none. */
    public TensorDecision decision(String tensor) {
        return decisions.get(tensor);
    }

    /** The analysis as JSON text (sorted keys; floats written exactly). */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a plan analysis as JSON", e);
        }
    }

    /**
     * Parses {@link #toJson} output.
     *
     * @throws JsonProcessingException if the text is not an analysis of a known method
     */
    public static PlanAnalysis fromJson(String json) throws JsonProcessingException {
        return JSON.readValue(json, PlanAnalysis.class);
    }

    /** SHA-256 of {@link #toJson}: equal analyses give equal digests (part of the plan id). */
    public String digest() {
        return Sha256.ofText(toJson());
    }
}
