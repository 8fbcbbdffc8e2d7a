package dev.mergeval.jobs;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs Spark jobs that stop at the first task failing on bad input. Retrying such a task cannot
 * help (the same input fails the same way) and would only delay the error by
 * {@code spark.task.maxFailures} attempts, so the job group is cancelled and the driver rethrows the
 * task's {@link BadInputException}, whose one-line message is all the user sees. Other failures,
 * such as a lost executor, are left to Spark's retries.
 */
public final class FailFast {

    private FailFast() {
    }

    /**
     * Runs {@code job} (which starts Spark jobs) in its own job group, counting its finished tasks on
     * {@code tasks} and cancelling the group on the first bad-input failure; rethrows that failure.
     */
    public static <T> T run(JavaSparkContext sc, String description, Progress tasks, Callable<T> job) {
        String group = "mergeval-" + UUID.randomUUID();
        JobGroupWatch watch = new JobGroupWatch(sc, group, tasks);
        sc.sc().addSparkListener(watch);
        sc.setJobGroup(group, description, true);
        try {
            return job.call();
        } catch (Exception e) {
            BadInputException bad = watch.firstBadInput();
            if (bad == null) {
                bad = BadInputException.in(e);
            }
            if (bad != null) {
                throw bad;
            }
            throw e instanceof RuntimeException re ? re : new IllegalStateException(description + " failed", e);
        } finally {
            sc.clearJobGroup();
            sc.sc().removeSparkListener(watch);
        }
    }

    /**
     * For task code: a bad-input cause rethrown as itself, so that the driver sees its class in the
     * task's failure reason and aborts at once, and the user sees its one-line message.
     */
    public static RuntimeException unwrapBadInput(RuntimeException e) {
        BadInputException bad = BadInputException.in(e);
        return bad != null ? bad : e;
    }
}
