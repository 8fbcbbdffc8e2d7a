package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One entry of {@code slices:}: its sources, which all cover the same number of layers, its
 * {@code parameters} (looked up after a source's own and before the global ones, as mergekit's
 * {@code ConfigReader.parameter}) and its own {@code base_model}, which replaces the config's for
 * this slice's tensors (and, for the first and last slice, the tensors before and after the layers),
 * as mergekit's {@code ConfigReader.base_model}.
 *
 * @param baseModel the slice's own {@code base_model}, or null where it has none
 * @param module the module of a {@code modules:} config the slice lays out ({@link MergeModule}), or
 *     null for a {@code slices:} config's
 */
public record MergeSlice(List<SliceSource> sources, Map<String, Object> parameters, String baseModel, String module)
        implements Serializable {
    public MergeSlice {
        sources = List.copyOf(sources);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** A slice of a {@code slices:} config. */
    public MergeSlice(List<SliceSource> sources, Map<String, Object> parameters, String baseModel) {
        this(sources, parameters, baseModel, null);
    }

    /** The number of output layers the slice makes. */
    public int layers() {
        return sources.get(0).layers();
    }

    /** The slice's own {@code base_model}, if it has one. */
    public Optional<String> ownBase() {
        return Optional.ofNullable(baseModel);
    }
}
