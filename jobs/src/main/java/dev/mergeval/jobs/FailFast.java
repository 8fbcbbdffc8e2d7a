package dev.mergeval.jobs;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs Spark jobs that stop at the first task failing on bad input. Retrying such a task cannot
 * help (the same input fails the same way) and would only delay the error by
 * {@code spark.task.maxFailures} attempts, so the job group is cancelled and the driver rethrows the
 * task's {@link BadInputException}, whose one-line message is all the user sees. Other failures,
 * such as a lost executor, are left to Spark's retries. Either way a failure is rethrown only once
 * the group's cancelled tasks have ended, so that none still writes where the caller cleans up.
 */
public final class FailFast {

    /** How long a failed job's cancelled tasks are waited for (a unit is a bounded read and write). */
    static final Duration CANCELLED_TASKS_BOUND = Duration.ofMinutes(2);

    private static final Logger LOG = LoggerFactory.getLogger(FailFast.class);

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
            awaitCancelledTasks(sc, watch, description);
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
     * After a failed job its cancelled tasks may still be running; the caller is about to delete
     * what they write into (a merge's staging directory), so wait for them to end.
     */
    private static void awaitCancelledTasks(JavaSparkContext sc, JobGroupWatch watch, String description) {
        try {
            // the listener counts the tasks that started only once it has seen their events (Spark's own
            // test hook, public in the bytecode: the events queued now are all it needs)
            sc.sc().listenerBus().waitUntilEmpty(CANCELLED_TASKS_BOUND.toMillis());
            if (!watch.awaitTasksEnded(CANCELLED_TASKS_BOUND)) {
                LOG.warn("{}: tasks of the failed job still running after {}", description, CANCELLED_TASKS_BOUND);
            }
        } catch (TimeoutException e) {
            LOG.warn("{}: Spark's listener events not delivered after {}", description, CANCELLED_TASKS_BOUND);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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
