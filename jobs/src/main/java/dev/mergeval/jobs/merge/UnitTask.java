package dev.mergeval.jobs.merge;

import dev.mergeval.common.FileDigest;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.merge.plan.MergePlan;
import dev.mergeval.merge.plan.UnitExecutor;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Executor side of one task of a merge's single job: for an index below the plan's unit count, runs
 * {@link UnitExecutor#execute} for that unit of the broadcast plan and returns its
 * {@link dev.mergeval.merge.plan.UnitResult}; for the indices after, hashes the input file at
 * {@code index - units} ({@link FileHashTask}) and returns its digest. Holds only broadcasts, a path and the file list, so
 * the closure shipped per task is small.
 */
final class UnitTask implements Function<Integer, Serializable> {

    private static final long serialVersionUID = 1L;

    private final Broadcast<MergePlan> plan;
    private final Broadcast<SerializableConfiguration> conf;
    private final String partsDir;
    private final List<String> files;
    private final FileHashTask hash;

    UnitTask(Broadcast<MergePlan> plan, Broadcast<SerializableConfiguration> conf, String partsDir,
            List<String> files, FileDigest kind) {
        this.plan = plan;
        this.conf = conf;
        this.partsDir = partsDir;
        this.files = List.copyOf(files);
        this.hash = new FileHashTask(conf, kind);
    }

    @Override
    public Serializable call(Integer index) {
        MergePlan p = plan.value();
        if (index >= p.units().size()) {
            return hash.call(files.get(index - p.units().size()));
        }
        try {
            return UnitExecutor.execute(p, p.units().get(index), partsDir, conf.value().value());
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }
}
