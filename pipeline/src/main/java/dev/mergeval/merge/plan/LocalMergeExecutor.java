package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Sha256;
import dev.mergeval.common.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/** The single-JVM path: units run on a fixed pool of threads in this process. */
public final class LocalMergeExecutor implements MergeExecutor {

    private final int threads;
    private final Configuration conf;
    private final Progress progress;

    public LocalMergeExecutor(int threads, Configuration conf, Progress progress) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.conf = conf;
        this.progress = progress;
    }

    @Override
    public List<UnitResult> execute(MergePlan plan, String partsDir) {
        progress.start("merge", plan.units().size());
        try {
            return runAll(plan.units().stream().<Callable<UnitResult>>map(unit -> () -> {
                UnitResult r = UnitExecutor.execute(plan, unit, partsDir, conf);
                progress.advance(1);
                return r;
            }).toList());
        } finally {
            progress.finish();
        }
    }

    @Override
    public List<String> sha256(List<String> files) {
        return runAll(files.stream().<Callable<String>>map(f -> () -> {
            Path p = new Path(f);
            try {
                return Sha256.of(p.getFileSystem(conf), p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }).toList());
    }

    @Override
    public String describe() {
        return "threads(" + threads + ")";
    }

    private <T> List<T> runAll(List<Callable<T>> tasks) {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> task : tasks) {
                futures.add(pool.submit(task));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get());
            }
            return results;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }
}
