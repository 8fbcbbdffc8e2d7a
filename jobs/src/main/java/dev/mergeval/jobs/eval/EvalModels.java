package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import org.apache.hadoop.conf.Configuration;

/** Loads the models that evaluation runs on (evaluated models and judge models) through the runtime. */
public final class EvalModels {

    private EvalModels() {
    }

    /**
     * @param source a model directory on any Hadoop path, or {@code merge:CONFIG.yaml}
     * @param device {@code cpu} or {@code cuda:N}
     */
    public static LanguageModel load(String source, String device) {
        return LanguageModels.load(source, new Configuration(),
                new RuntimeOptions(device, 0, RuntimeOptions.DEFAULT_MAX_BATCH_SIZE));
    }
}
