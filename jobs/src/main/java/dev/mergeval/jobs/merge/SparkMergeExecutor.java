package dev.mergeval.jobs.merge;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.merge.AnalysisRunner;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergePlan;
import dev.mergeval.merge.plan.UnitResult;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Runs a plan's units as Spark tasks: one partition per unit, largest first, results put back in
 * unit order whatever the cluster. The plan (with the parsed merge config and the parameters
 * resolved for each tensor, so tasks read no YAML) and the driver's Hadoop configuration (including
 * every {@code spark.hadoop.*} setting) are broadcast once; each task runs
 * {@link dev.mergeval.merge.plan.UnitExecutor#execute}, which reads its byte ranges through Hadoop
 * FileSystem and writes its part file.
 *
 * <p>Failures: a lost executor's tasks are retried by Spark ({@code spark.task.maxFailures}); units
 * are idempotent, so retries give the same bytes. A task that fails on bad input cancels the whole
 * job at once and {@link #execute} rethrows its {@link BadInputException}.
 */
public final class SparkMergeExecutor implements MergeExecutor {

    private final JavaSparkContext sc;
    private final Progress progress;

    public SparkMergeExecutor(JavaSparkContext sc, Progress progress) {
        this.sc = sc;
        this.progress = progress;
    }

    @Override
    public List<UnitResult> execute(MergePlan plan, String partsDir) {
        return executeAndHash(plan, partsDir, List.of(), FileDigest.XXH64).units();
    }

    /**
     * One Spark job: a task per unit, largest first ({@link MergeExecutor#largestFirst}), then a task
     * per input file to hash, which fill the slots the last units leave idle.
     */
    @Override
    public Executed executeAndHash(MergePlan plan, String partsDir, List<String> files, FileDigest kind) {
        int n = plan.units().size();
        List<Integer> order = new ArrayList<>(MergeExecutor.largestFirst(plan));
        IntStream.range(n, n + files.size()).forEach(order::add);
        Broadcast<MergePlan> planBroadcast = sc.broadcast(plan);
        Broadcast<SerializableConfiguration> conf = hadoopConf();
        progress.start("merge", order.size());
        List<Serializable> done;
        try {
            String description = "mergeval merge " + plan.planId().substring(0, 16) + ": " + n + " units"
                    + (files.isEmpty() ? "" : ", " + kind.id() + " of " + files.size() + " input files");
            done = FailFast.run(sc, description, progress,
                    () -> sc.parallelize(order, Math.max(1, order.size()))
                            .map(new UnitTask(planBroadcast, conf, partsDir, files, kind))
                            .collect());
        } finally {
            progress.finish();
            planBroadcast.destroy();
            conf.destroy();
        }
        UnitResult[] units = new UnitResult[n];
        String[] digests = new String[files.size()];
        for (int i = 0; i < order.size(); i++) {
            int index = order.get(i);
            if (index < n) {
                units[index] = (UnitResult) done.get(i);
            } else {
                digests[index - n] = (String) done.get(i);
            }
        }
        return new Executed(List.of(units), List.of(digests));
    }

    @Override
    public List<String> digests(List<String> files, FileDigest kind) {
        if (files.isEmpty()) {
            return List.of();
        }
        Broadcast<SerializableConfiguration> conf = hadoopConf();
        try {
            return FailFast.run(sc, "mergeval " + kind.id() + " of " + files.size() + " files", Progress.NONE,
                    () -> sc.parallelize(files, files.size()).map(new FileHashTask(conf, kind)).collect());
        } finally {
            conf.destroy();
        }
    }

    /** Safe LoRA's cosines and any other per-tensor analysis run as tasks too ({@link SparkAnalysisRunner}). */
    @Override
    public AnalysisRunner analysisRunner() {
        return new SparkAnalysisRunner(sc);
    }

    @Override
    public Progress progress() {
        return progress;
    }

    @Override
    public String describe() {
        return "spark(" + sc.master() + ")";
    }

    private Broadcast<SerializableConfiguration> hadoopConf() {
        return sc.broadcast(new SerializableConfiguration(sc.hadoopConfiguration()));
    }
}
