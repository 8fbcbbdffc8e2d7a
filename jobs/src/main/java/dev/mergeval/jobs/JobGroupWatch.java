package dev.mergeval.jobs;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import scala.collection.JavaConverters;

/**
 * Watches the tasks of one job group on the driver: counts finished tasks as progress, and cancels
 * the group on the first task that failed on bad input. Retrying such a task cannot help (the same
 * bytes fail the same way) and would only delay the error by {@code spark.task.maxFailures}
 * attempts; other failures, such as a lost executor, are left to Spark's retries.
 */
final class JobGroupWatch extends SparkListener {

    /** The local property under which Spark records a job's group ({@code SparkContext.SPARK_JOB_GROUP_ID}). */
    private static final String JOB_GROUP_PROPERTY = "spark.jobGroup.id";

    private final JavaSparkContext sc;
    private final String jobGroup;
    private final Progress progress;
    private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
    private final AtomicReference<BadInputException> firstBadInput = new AtomicReference<>();
    /** Tasks of the group started and not yet ended; guarded by {@code this}. */
    private int running;

    JobGroupWatch(JavaSparkContext sc, String jobGroup, Progress progress) {
        this.sc = sc;
        this.jobGroup = jobGroup;
        this.progress = progress;
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
        if (start.properties() != null && jobGroup.equals(start.properties().getProperty(JOB_GROUP_PROPERTY))) {
            for (Object stageId : JavaConverters.seqAsJavaList(start.stageIds())) {
                stages.add((Integer) stageId);
            }
        }
    }

    @Override
    public void onTaskStart(SparkListenerTaskStart start) {
        if (stages.contains(start.stageId())) {
            synchronized (this) {
                running++;
            }
        }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (!stages.contains(end.stageId())) {
            return;
        }
        synchronized (this) {
            running--;
            notifyAll();
        }
        if (end.taskInfo().successful()) {
            progress.advance(1);
        } else if (end.reason() instanceof ExceptionFailure failure
                && failure.className().equals(BadInputException.class.getName())
                && firstBadInput.compareAndSet(null, new BadInputException(failure.description()))) {
            sc.cancelJobGroup(jobGroup);
        }
    }

    /**
     * Waits until every task of the group that started has ended (a cancelled task ends once its
     * thread stops), at most {@code bound}; whether they all did.
     */
    synchronized boolean awaitTasksEnded(Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        for (long left = bound.toNanos(); running > 0 && left > 0; left = deadline - System.nanoTime()) {
            wait(Math.max(1, left / 1_000_000));
        }
        return running <= 0;
    }

    /** The first bad-input failure seen in the group, or null. */
    BadInputException firstBadInput() {
        return firstBadInput.get();
    }
}
