package dev.mergeval.common;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Work fanned out over a bounded thread pool of this JVM: results come back in the tasks' order,
 * so an outcome never depends on the thread count, and a failure is rethrown as
 * {@link Failures#unwrap} says (the user's bad-input error first). The pool lives for one call, and
 * no task outlives it: after a failure the others are interrupted and awaited, so that none writes
 * into a directory the caller then deletes.
 */
public final class Parallel {

    /** How long a failed call waits for its other tasks to stop. */
    private static final int TERMINATION_MINUTES = 10;

    private Parallel() {
    }

    /** Runs {@code tasks} on at most {@code threads} threads (at least one); their results in order. */
    public static <R> List<R> call(List<? extends Callable<? extends R>> tasks, int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, tasks.size())));
        try {
            List<Future<? extends R>> futures = new ArrayList<>();
            for (Callable<? extends R> task : tasks) {
                futures.add(pool.submit(task));
            }
            List<R> results = new ArrayList<>(futures.size());
            for (Future<? extends R> f : futures) {
                results.add(f.get());
            }
            return results;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw Failures.unwrap(e);
        } finally {
            pool.shutdownNow();
            awaitTermination(pool);
        }
    }

    /** Waits for the interrupted tasks: one that ignores interruption ends with its piece of work. */
    private static void awaitTermination(ExecutorService pool) {
        try {
            pool.awaitTermination(TERMINATION_MINUTES, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@code fn} applied to each of {@code items} on at most {@code threads} threads; results in order. */
    public static <T, R> List<R> map(List<T> items, int threads, Function<? super T, ? extends R> fn) {
        List<Callable<R>> tasks = new ArrayList<>(items.size());
        for (T item : items) {
            tasks.add(() -> fn.apply(item));
        }
        return call(tasks, threads);
    }
}
