package dev.mergeval.jobs.merge;

import dev.mergeval.common.BadInputException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Cancels a job group on the first task that failed on bad input. Retrying such a task cannot
 * help (the same bytes fail the same way) and would only delay the error by
 * {@code spark.task.maxFailures} attempts; other failures, such as a lost executor, are left to
 * Spark's retries.
 */
final class BadInputAbort extends SparkListener {

    private final JavaSparkContext sc;
    private final String jobGroup;
    private final AtomicReference<BadInputException> first = new AtomicReference<>();

    BadInputAbort(JavaSparkContext sc, String jobGroup) {
        this.sc = sc;
        this.jobGroup = jobGroup;
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
        if (taskEnd.reason() instanceof ExceptionFailure failure
                && failure.className().equals(BadInputException.class.getName())
                && first.compareAndSet(null, new BadInputException(failure.description()))) {
            sc.cancelJobGroup(jobGroup);
        }
    }

    /** The first bad-input failure seen, or null. */
    BadInputException firstFailure() {
        return first.get();
    }
}
