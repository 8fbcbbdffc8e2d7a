package dev.mergeval.jobs.merge;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/** Counts failed task attempts by kind, and exception failures per partition, as the driver saw them. */
final class TaskFailures extends SparkListener {

    final AtomicInteger exceptionFailures = new AtomicInteger();
    final AtomicInteger executorLost = new AtomicInteger();
    final AtomicInteger succeeded = new AtomicInteger();
    final Map<Integer, AtomicInteger> exceptionFailuresByPartition = new ConcurrentHashMap<>();

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (end.reason() instanceof ExceptionFailure) {
            exceptionFailures.incrementAndGet();
            exceptionFailuresByPartition.computeIfAbsent(end.taskInfo().partitionId(), k -> new AtomicInteger())
                    .incrementAndGet();
        } else if (end.reason() instanceof ExecutorLostFailure) {
            executorLost.incrementAndGet();
        } else if (end.taskInfo().successful()) {
            succeeded.incrementAndGet();
        }
    }

    /**
     * Waits until the driver's listener bus has delivered every event posted so far. Listeners run
     * asynchronously; {@code waitUntilEmpty} is Spark-internal ({@code private[spark]}, public in
     * bytecode) and is what Spark's own tests use for this.
     */
    static void drain(org.apache.spark.api.java.JavaSparkContext sc) {
        try {
            sc.sc().listenerBus().waitUntilEmpty();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("listener bus did not drain", e);
        }
    }

    int maxAttemptsFailedOnOnePartition() {
        return exceptionFailuresByPartition.values().stream().mapToInt(AtomicInteger::get).max().orElse(0);
    }
}
