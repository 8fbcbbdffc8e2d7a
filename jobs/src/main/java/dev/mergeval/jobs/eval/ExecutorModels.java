package dev.mergeval.jobs.eval;

import dev.mergeval.common.BadInputException;
import dev.mergeval.source.ModelSource;
import org.apache.spark.sql.SparkSession;

/**
 * The models loaded in this JVM: one {@link ModelCache} per executor (or local driver), keyed by
 * source (its text) and device, holding at most {@value #CONF_MODELS_PER_DEVICE} models per device (one per GPU
 * Spark assigned, or the CPU), least recently used closed first; see {@link ModelCache} for the exact
 * guarantee, including a task's judge model held next to its evaluated model.
 */
public final class ExecutorModels {

    /** Spark setting: models an executor keeps loaded per device (default 1). */
    public static final String CONF_MODELS_PER_DEVICE = "spark.mergeval.executor.modelsPerDevice";
    public static final int DEFAULT_MODELS_PER_DEVICE = 1;

    private static final ModelCache CACHE = new ModelCache();

    private ExecutorModels() {
    }

    /** Leases a model from this JVM's cache; close the lease when the unit is done with it. */
    public static ModelCache.Lease lease(ModelSource source, String device, int perDevice, ModelFactory factory)
            throws InterruptedException {
        return CACHE.lease(source, device, perDevice, factory);
    }

    /** The bound, read on the driver (spark-defaults, {@code --conf}, or set on the session). */
    public static int modelsPerDevice(SparkSession spark) {
        String value = spark.conf().get(CONF_MODELS_PER_DEVICE, Integer.toString(DEFAULT_MODELS_PER_DEVICE));
        int n;
        try {
            n = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            n = 0;
        }
        if (n < 1) {
            throw new BadInputException(CONF_MODELS_PER_DEVICE + " must be an integer >= 1, got '" + value + "'");
        }
        return n;
    }

    /** Closes and forgets every model (tests, and local runs that end before the JVM does). */
    public static void closeAll() {
        CACHE.closeAll();
    }
}
