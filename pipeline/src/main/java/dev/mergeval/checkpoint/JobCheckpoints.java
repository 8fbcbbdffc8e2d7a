package dev.mergeval.checkpoint;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The checkpoints the tasks of the last few jobs opened in this JVM, kept unread
 * ({@link Checkpoint#reopen}), for {@link Checkpoint#openFor}. A job is compared by identity: the
 * tasks of a Spark job share one broadcast value in an executor, and a new job (a new value,
 * however equal) opens its inputs anew.
 */
final class JobCheckpoints {

    /** Jobs whose checkpoints are kept: the one running, and one before it still finishing. */
    private static final int JOBS_KEPT = 2;

    private record Job(Object key, Map<String, Checkpoint> byLocation) {
    }

    /** Newest first; guarded by itself. */
    private static final List<Job> JOBS = new ArrayList<>();

    private JobCheckpoints() {
    }

    static Checkpoint open(Object job, String location, Configuration conf) {
        Checkpoint known;
        synchronized (JOBS) {
            known = kept(job).get(location);
        }
        if (known != null) {
            return known.reopen();
        }
        Checkpoint opened = Checkpoint.open(location, conf);
        Checkpoint unread = opened.reopen();
        synchronized (JOBS) {
            kept(job).putIfAbsent(location, unread);
        }
        return opened;
    }

    /** The checkpoints kept for {@code job}, made the newest job (guarded by {@link #JOBS}). */
    private static Map<String, Checkpoint> kept(Object job) {
        for (int i = 0; i < JOBS.size(); i++) {
            if (JOBS.get(i).key() == job) {
                Job found = JOBS.remove(i);
                JOBS.add(0, found);
                return found.byLocation();
            }
        }
        JOBS.add(0, new Job(job, new HashMap<>()));
        if (JOBS.size() > JOBS_KEPT) {
            JOBS.remove(JOBS_KEPT);
        }
        return JOBS.get(0).byLocation();
    }
}
