package dev.mergeval.jobs.eval;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import org.apache.spark.SparkEnv;

/**
 * Loads the models that evaluation runs on (evaluated models and judge models) through the runtime,
 * with the Spark job's Hadoop settings where there is one: an executor's plain {@code new
 * Configuration()} lacks {@code spark.hadoop.*} (an S3A endpoint and keys, say), and a sweep's
 * merge-on-load configs live in its output directory on any filesystem.
 */
public final class EvalModels {

    /** The Spark environment whose settings were installed last (a test JVM starts several). */
    private static SparkEnv settingsOf;

    private EvalModels() {
    }

    /**
     * @param source a model directory on any Hadoop path, or {@code merge:CONFIG.yaml}
     * @param device {@code cpu} or {@code cuda:N}
     */
    public static LanguageModel load(String source, String device) {
        return LanguageModels.load(source, HadoopFs.defaults(),
                new RuntimeOptions(device, 0, RuntimeOptions.DEFAULT_MAX_BATCH_SIZE));
    }

    /**
     * Makes the Spark job's Hadoop settings this JVM's defaults ({@link HadoopFs#defaults()}), for
     * the models and for the suites and datasets the library reads; called by every unit, so an
     * executor has them before it reads anything. A no-op outside Spark.
     */
    static synchronized void useJobHadoopSettings() {
        SparkEnv env = SparkEnv.get();
        if (env != null && env != settingsOf) {
            HadoopFs.useDefaults(SparkSessions.hadoopConfiguration(env.conf()));
            settingsOf = env;
        }
    }
}
