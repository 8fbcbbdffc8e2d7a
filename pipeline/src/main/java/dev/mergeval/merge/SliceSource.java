package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Map;

/**
 * One entry of a slice's {@code sources:}: a model reference, its layers {@code [start, end)}
 * ({@code layer_range}) and its per-model parameter settings, as parsed from YAML.
 */
public record SliceSource(String model, int start, int end, Map<String, Object> parameters)
        implements Serializable {
    public SliceSource {
        parameters = Map.copyOf(parameters);
    }

    /** The number of layers the range covers. */
    public int layers() {
        return end - start;
    }
}
