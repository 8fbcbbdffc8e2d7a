package dev.mergeval.merge;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The result of a method's plan-time analysis ({@link MergeMethod#analyze}): a decision per tensor
 * (only for the tensors it concerns) and a summary of the whole, both recorded in the merge
 * provenance. Serializable, so it travels in the plan to the executors.
 *
 * @param decisions per tensor name, in output order
 * @param summary plain values (numbers, booleans, strings, lists of them) by name
 */
public record PlanAnalysis(Map<String, TensorDecision> decisions, Map<String, Object> summary)
        implements Serializable {

    private static final long serialVersionUID = 1L;

    /** No analysis: what every method without one gets. */
    public static final PlanAnalysis NONE = new PlanAnalysis(Map.of(), Map.of());

    public PlanAnalysis {
        decisions = Collections.unmodifiableMap(new LinkedHashMap<>(decisions));
        summary = Collections.unmodifiableMap(new LinkedHashMap<>(summary));
    }

    public boolean isEmpty() {
        return decisions.isEmpty() && summary.isEmpty();
    }

    /** The decision for {@code tensor}, or null when the analysis made none. */
    public TensorDecision decision(String tensor) {
        return decisions.get(tensor);
    }

    /** SHA-256 of the serialized analysis: equal analyses give equal digests (part of the plan id). */
    public String digest() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
