package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;

/** The production factory: the Mergeval runtime, through {@link EvalModels#load}. */
public final class RuntimeModelFactory implements ModelFactory {
    private static final long serialVersionUID = 1L;

    @Override
    public LanguageModel load(String source, String device) {
        return EvalModels.load(source, device);
    }
}
