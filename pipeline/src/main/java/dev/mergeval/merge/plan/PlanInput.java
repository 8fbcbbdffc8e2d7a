package dev.mergeval.merge.plan;

import java.io.Serializable;

/**
 * An input model: the reference as written in the config, and the absolute URI it resolves to, so
 * that executors with another working directory read the same files.
 */
public record PlanInput(String ref, String uri) implements Serializable {
}
