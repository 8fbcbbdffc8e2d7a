package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import java.io.Serializable;

/** Loads a model from its source on an executor; shipped from the driver, so it is serializable. */
@FunctionalInterface
public interface ModelFactory extends Serializable {
    LanguageModel load(String source);
}
