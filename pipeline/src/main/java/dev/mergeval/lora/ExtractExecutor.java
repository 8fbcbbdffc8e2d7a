package dev.mergeval.lora;

import java.util.List;

/**
 * Runs an extraction's per-tensor tasks somewhere (threads in this JVM, Spark executors); each task is
 * {@link DeltaDecomposer#run}, so where it runs does not change a byte of the adapter.
 */
public interface ExtractExecutor {

    /** Every task's result, in task order. */
    List<DeltaResult> run(ExtractionPlan plan);

    /** Short description for provenance, e.g. {@code threads(2)} or {@code spark(local[2])}. */
    String describe();
}
