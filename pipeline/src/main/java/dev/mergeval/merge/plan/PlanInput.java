package dev.mergeval.merge.plan;

import java.io.Serializable;

/**
 * An input model: the reference as written in the config, and the absolute URI it resolves to, so
 * that executors with another working directory read the same files.
 *
 * @param parameter the {@link dev.mergeval.merge.ParamDef.Kind#MODEL} parameter that names this
 *     input (an extra input such as {@code unaligned_model}), or null for a model of
 *     {@code models}/{@code base_model}
 */
record PlanInput(String ref, String uri, String parameter) implements Serializable {

    /** A model of {@code models} or {@code base_model}. */
    public PlanInput(String ref, String uri) {
        this(ref, uri, null);
    }

    public boolean isExtra() {
        return parameter != null;
    }

    /** Unique among a plan's inputs: the reference of a model, {@code parameters.NAME} of an extra input. */
    public String key() {
        return isExtra() ? "parameters." + parameter : ref;
    }
}
