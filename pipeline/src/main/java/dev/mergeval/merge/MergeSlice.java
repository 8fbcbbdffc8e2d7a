package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One entry of {@code slices:}: its sources, which all cover the same number of layers, and its
 * {@code parameters} (looked up after a source's own and before the global ones, as mergekit's
 * {@code ConfigReader.parameter}).
 */
public record MergeSlice(List<SliceSource> sources, Map<String, Object> parameters) implements Serializable {
    public MergeSlice {
        sources = List.copyOf(sources);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** The number of output layers the slice makes. */
    public int layers() {
        return sources.get(0).layers();
    }
}
