package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import java.io.Serializable;

/** Loads a model from its source on a device, on an executor; shipped from the driver, so serializable. */
@FunctionalInterface
public interface ModelFactory extends Serializable {
    LanguageModel load(String source, String device);
}
