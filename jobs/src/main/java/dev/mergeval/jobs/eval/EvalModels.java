package dev.mergeval.jobs.eval;

import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.LanguageModel;

/** Loads the models that evaluation runs on: the evaluated model and judge models. */
public final class EvalModels {

    private EvalModels() {
    }

    /**
     * Loads a model from its source. The runtime's loader ({@code LanguageModels.load}) is not part
     * of this build yet, so this reports that clearly instead of failing later.
     */
    public static LanguageModel load(String source) {
        throw new BadInputException("cannot load model '" + source + "': this build has no model runtime "
                + "(dev.mergeval.runtime.LanguageModels); rule judges (keyword, keyword-extended, refusal) work");
    }
}
