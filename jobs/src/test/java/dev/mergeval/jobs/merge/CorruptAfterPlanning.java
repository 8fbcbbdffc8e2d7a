package dev.mergeval.jobs.merge;

import dev.mergeval.common.FileDigest;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergePlan;
import dev.mergeval.merge.plan.UnitResult;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Truncates an input shard after the driver planned from the intact headers, then runs the real
 * executor: what a shard replaced by a broken upload while the job runs looks like. The executors,
 * not the planner, meet the bad data.
 */
final class CorruptAfterPlanning implements MergeExecutor {

    private final MergeExecutor delegate;
    private final java.nio.file.Path shard;

    CorruptAfterPlanning(MergeExecutor delegate, java.nio.file.Path shard) {
        this.delegate = delegate;
        this.shard = shard;
    }

    @Override
    public List<UnitResult> execute(MergePlan plan, String partsDir) {
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            f.setLength(f.length() - 1000);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return delegate.execute(plan, partsDir);
    }

    @Override
    public List<String> digests(List<String> files, FileDigest kind) {
        return delegate.digests(files, kind);
    }

    @Override
    public String describe() {
        return delegate.describe();
    }
}
