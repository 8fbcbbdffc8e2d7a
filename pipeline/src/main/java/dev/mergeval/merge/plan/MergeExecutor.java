package dev.mergeval.merge.plan;

import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.AnalysisRunner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Runs a plan's units somewhere (threads in this JVM, Spark executors) and reports their parts.
 * Implementations only decide where {@link UnitExecutor#execute} runs; the bytes are fixed by the
 * plan.
 */
public interface MergeExecutor {

    /** Units' results and files' digests, from {@link #executeAndHash}. */
    record Executed(List<UnitResult> units, List<String> digests) {
        public Executed {
            units = List.copyOf(units);
            digests = List.copyOf(digests);
        }
    }

    /** Runs every unit of the plan, writing parts under {@code partsDir}; results in unit order. */
    List<UnitResult> execute(MergePlan plan, String partsDir);

    /** The {@code kind} digest of each file, in the order given, computed where the data is cheapest to read. */
    List<String> digests(List<String> files, FileDigest kind);

    /**
     * {@link #execute} and {@link #digests} together, overlapped where the executor can (the hashes
     * fill the threads that the last units leave idle). By default one after the other.
     */
    default Executed executeAndHash(MergePlan plan, String partsDir, List<String> files, FileDigest kind) {
        List<UnitResult> units = execute(plan, partsDir);
        return new Executed(units, digests(files, kind));
    }

    /** Where the plan-time analysis runs its per-tensor work: by default in this JVM. */
    default AnalysisRunner analysisRunner() {
        return AnalysisRunner.LOCAL;
    }

    /** Whom the run reports its progress to: the units', and before them the plan-time analysis'. */
    default Progress progress() {
        return Progress.NONE;
    }

    /** Short description for provenance, e.g. {@code threads(2)} or {@code spark(local[2])}. */
    String describe();

    /**
     * The plan's unit indices, largest unit first (ties in plan order): started in this order on a
     * pool of workers, the last units to finish are small ones, so no worker idles long while
     * another finishes a big unit (longest-processing-time-first scheduling). The order never
     * changes any byte: units write to places fixed by the plan.
     */
    static List<Integer> largestFirst(MergePlan plan) {
        long[] bytes = plan.units().stream().mapToLong(plan::unitBytes).toArray();
        List<Integer> order = new ArrayList<>(IntStream.range(0, bytes.length).boxed().toList());
        order.sort(Comparator.comparingLong((Integer i) -> -bytes[i]).thenComparingInt(i -> i));
        return order;
    }
}
