package dev.mergeval.jobs.eval;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;

/**
 * The production factory: {@link ModelSources#load} with this JVM's Hadoop settings
 * ({@link HadoopFs#defaults()}: on an executor, the Spark job's, which a unit installs before it
 * loads anything; a sweep's merge-on-load configs live in its output directory on any filesystem).
 */
public final class RuntimeModelFactory implements ModelFactory {
    private static final long serialVersionUID = 1L;

    /**
     * @param device {@code cpu} or {@code cuda:N}
     */
    @Override
    public LanguageModel load(ModelSource source, String device) {
        return ModelSources.load(source, HadoopFs.defaults(),
                new RuntimeOptions(device, 0, RuntimeOptions.DEFAULT_MAX_BATCH_SIZE));
    }
}
