package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Map;

/**
 * One entry of {@code models:}: a model reference (path, URI or {@code base+adapter}) and its
 * per-model parameter settings (scalars, gradients or filter lists, as parsed from YAML).
 */
public record ModelEntry(String model, Map<String, Object> parameters) implements Serializable {
    public ModelEntry {
        parameters = Map.copyOf(parameters);
    }
}
