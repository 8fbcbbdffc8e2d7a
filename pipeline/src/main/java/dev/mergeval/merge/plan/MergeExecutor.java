package dev.mergeval.merge.plan;

import java.util.List;

/**
 * Runs a plan's units somewhere (threads in this JVM, Spark executors) and reports their parts.
 * Implementations only decide where {@link UnitExecutor#execute} runs; the bytes are fixed by the
 * plan.
 */
public interface MergeExecutor {

    /** Runs every unit of the plan, writing parts under {@code partsDir}; results in unit order. */
    List<UnitResult> execute(MergePlan plan, String partsDir);

    /** SHA-256 of each file, in the order given, computed where the data is cheapest to read. */
    List<String> sha256(List<String> files);

    /** Short description for provenance, e.g. {@code threads(2)} or {@code spark(local[2])}. */
    String describe();
}
