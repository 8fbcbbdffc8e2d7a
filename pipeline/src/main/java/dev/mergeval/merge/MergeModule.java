package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One entry of {@code modules:} (mergekit's {@code OutputModuleDefinition}): how one module of a
 * modular architecture (a vision-language model's {@code text_decoder}, {@code vision_tower},
 * {@code multi_modal_projector}; {@link MergekitModules}) is merged, by {@code models} or by
 * {@code slices} over the module's own layers, with {@code parameters} looked up after a slice's
 * and before the global ones (mergekit's {@code ConfigReader.parameter}).
 *
 * @param name the module's name in the architecture's definition
 * @param models the module's {@code models:}, empty where it has {@code slices}
 * @param slices the module's {@code slices:}, empty where it has {@code models}
 * @param parameters the module's {@code parameters:}
 */
public record MergeModule(String name, List<ModelEntry> models, List<MergeSlice> slices,
        Map<String, Object> parameters) implements Serializable {
    public MergeModule {
        models = List.copyOf(models);
        slices = List.copyOf(slices);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }
}
