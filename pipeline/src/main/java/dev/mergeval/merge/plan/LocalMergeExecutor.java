package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Parallel;
import dev.mergeval.common.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;

/**
 * The single-JVM path: units run on a fixed pool of threads in this process, largest first
 * ({@link MergeExecutor#largestFirst}). Hashing submitted with the units ({@link #executeAndHash})
 * queues behind them on the same pool, so it runs on the threads that the last units leave idle.
 */
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
        return executeAndHash(plan, partsDir, List.of(), FileDigest.XXH64).units();
    }

    @Override
    public List<String> digests(List<String> files, FileDigest kind) {
        return runAll(hashTasks(files, kind));
    }

    @Override
    public Executed executeAndHash(MergePlan plan, String partsDir, List<String> files, FileDigest kind) {
        List<Integer> order = MergeExecutor.largestFirst(plan);
        List<Callable<Object>> tasks = new ArrayList<>();
        for (int index : order) {
            WorkUnit unit = plan.units().get(index);
            tasks.add(() -> {
                UnitResult r = UnitExecutor.execute(plan, unit, partsDir, conf);
                progress.advance(1);
                return r;
            });
        }
        tasks.addAll(hashTasks(files, kind));
        progress.start("merge", plan.units().size());
        List<Object> done;
        try {
            done = runAll(tasks);
        } finally {
            progress.finish();
        }
        int n = plan.units().size();
        UnitResult[] units = new UnitResult[n];
        for (int i = 0; i < n; i++) {
            units[order.get(i)] = (UnitResult) done.get(i);
        }
        return new Executed(List.of(units), done.subList(n, done.size()).stream().map(String.class::cast).toList());
    }

    @Override
    public Progress progress() {
        return progress;
    }

    @Override
    public String describe() {
        return "threads(" + threads + ")";
    }

    private List<Callable<Object>> hashTasks(List<String> files, FileDigest kind) {
        return files.stream().<Callable<Object>>map(f -> () -> HadoopFs.digest(f, kind, conf)).toList();
    }

    @SuppressWarnings("unchecked")
    private <T> List<T> runAll(List<? extends Callable<?>> tasks) {
        return (List<T>) Parallel.call(tasks, threads);
    }
}
