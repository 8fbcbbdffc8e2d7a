package dev.mergeval.merge;

import java.io.Serializable;
import java.util.List;

/**
 * Parameters resolved for one tensor: the global ones and, per input model (in
 * {@link MergeConfig#inputModels()} order), the per-model ones; {@code baseIndex} is the base
 * model's position in that order, or -1. Serializable: a merge plan carries them resolved to the
 * executors.
 */
public record TensorParams(String tensorName, Params global, List<Params> perModel, int baseIndex)
        implements Serializable {
    public TensorParams {
        perModel = List.copyOf(perModel);
    }
}
