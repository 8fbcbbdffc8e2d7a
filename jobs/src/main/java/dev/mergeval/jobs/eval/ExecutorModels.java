package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import java.util.HashMap;
import java.util.Map;

/**
 * The models loaded in this JVM, keyed by source and device: an executor loads each model once
 * per device (one per GPU Spark assigned, or one on the CPU) and reuses it for every unit of that
 * model. Loading is serialised so that two tasks running at once never load the same model twice.
 */
public final class ExecutorModels {

    /** A model and whether this call loaded it, with the load time. */
    public record Lease(LanguageModel model, boolean loadedNow, long loadNanos) {
    }

    private static final Map<String, LanguageModel> MODELS = new HashMap<>();

    private ExecutorModels() {
    }

    public static synchronized Lease get(String source, String device, ModelFactory factory) {
        String key = source + "@" + device;
        LanguageModel m = MODELS.get(key);
        if (m != null) {
            return new Lease(m, false, 0L);
        }
        long start = System.nanoTime();
        m = factory.load(source, device);
        long nanos = System.nanoTime() - start;
        MODELS.put(key, m);
        return new Lease(m, true, nanos);
    }

    /** Closes and forgets every model (tests, and local runs that end before the JVM does). */
    public static synchronized void closeAll() {
        MODELS.values().forEach(LanguageModel::close);
        MODELS.clear();
    }
}
