package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.source.ModelSource;
import java.io.Serializable;

/**
 * Loads a model from its source on a device, on an executor; shipped from the driver, so
 * serializable. {@link RuntimeModelFactory} is the one production implementation; the interface is
 * the seam through which tests run the Spark plumbing on rule-based models.
 */
@FunctionalInterface
public interface ModelFactory extends Serializable {
    LanguageModel load(ModelSource source, String device);
}
