package dev.mergeval.merge.plan;

import java.util.List;

/**
 * Runs a plan's units somewhere (threads in this JVM, Spark executors) and reports their parts.
 * Implementations only decide where {@link UnitExecutor#execute} runs; the bytes are fixed by the
 * plan.
 */
public interface MergeExecutor {

    /** Units' results and files' SHA-256, from {@link #executeAndHash}. */
    record Executed(List<UnitResult> units, List<String> sha256) {
        public Executed {
            units = List.copyOf(units);
            sha256 = List.copyOf(sha256);
        }
    }

    /** Runs every unit of the plan, writing parts under {@code partsDir}; results in unit order. */
    List<UnitResult> execute(MergePlan plan, String partsDir);

    /** SHA-256 of each file, in the order given, computed where the data is cheapest to read. */
    List<String> sha256(List<String> files);

    /**
     * {@link #execute} and {@link #sha256} together, overlapped where the executor can (the hashes
     * fill the threads that the last units leave idle). By default one after the other.
     */
    default Executed executeAndHash(MergePlan plan, String partsDir, List<String> files) {
        List<UnitResult> units = execute(plan, partsDir);
        return new Executed(units, sha256(files));
    }

    /** Short description for provenance, e.g. {@code threads(2)} or {@code spark(local[2])}. */
    String describe();
}
