package dev.mergeval.jobs.eval;

import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkEnv;

/**
 * Loads the models that evaluation runs on (evaluated models and judge models) through the runtime,
 * with the Spark job's Hadoop settings where there is one: an executor's plain {@code new
 * Configuration()} lacks {@code spark.hadoop.*} (an S3A endpoint and keys, say), and a sweep's
 * merge-on-load configs live in its output directory on any filesystem.
 */
public final class EvalModels {

    private EvalModels() {
    }

    /**
     * @param source a model directory on any Hadoop path, or {@code merge:CONFIG.yaml}
     * @param device {@code cpu} or {@code cuda:N}
     */
    public static LanguageModel load(String source, String device) {
        return LanguageModels.load(source, hadoopConfiguration(),
                new RuntimeOptions(device, 0, RuntimeOptions.DEFAULT_MAX_BATCH_SIZE));
    }

    private static Configuration hadoopConfiguration() {
        SparkEnv env = SparkEnv.get();
        return env == null ? new Configuration() : SparkSessions.hadoopConfiguration(env.conf());
    }
}
