package dev.mergeval.merge.plan;

import java.io.Serializable;
import java.util.List;

/**
 * One task's worth of merging: slices of tensors from a single layer (or a single non-layer
 * tensor), written in order into one part file.
 *
 * @param id position in the plan; also names the part file
 * @param group the layer ({@code layers.12}) or tensor the unit belongs to, for progress and provenance
 * @param slices the output slices, in part-file order
 */
public record WorkUnit(int id, String group, List<TensorSlice> slices) implements Serializable {
    public WorkUnit {
        slices = List.copyOf(slices);
    }

    /** The part file's name inside the parts directory. */
    public String partName() {
        return String.format("part-%06d.bin", id);
    }
}
