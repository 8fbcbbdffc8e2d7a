package dev.mergeval.merge;

import java.util.Map;

/**
 * One entry of {@code models:}: a model reference (path, URI or {@code base+adapter}) and its
 * per-model parameter settings (scalars, gradients or filter lists, as parsed from YAML).
 */
public record ModelEntry(String model, Map<String, Object> parameters) implements java.io.Serializable {
    public ModelEntry {
        parameters = Map.copyOf(parameters);
    }
}
