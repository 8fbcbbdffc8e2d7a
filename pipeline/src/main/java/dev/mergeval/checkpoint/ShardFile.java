package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.time.Instant;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * One file a checkpoint reads from: its fully qualified path, length in bytes and modification
 * time (milliseconds, as its filesystem reports it), as they were when it was opened.
 */
public record ShardFile(String path, long length, long modified) implements Serializable {

    /** The version of {@code path} its {@code status} describes. */
    public static ShardFile of(Path path, FileStatus status) {
        return new ShardFile(path.toString(), status.getLen(), status.getModificationTime());
    }

    /**
     * Refuses a job whose input file is no longer as it was opened: a checkpoint written over while
     * it was read (a training run saving to the same path) gives results of two versions, and
     * digests of neither.
     */
    public static void checkUnchanged(Iterable<ShardFile> files, Configuration conf) {
        for (ShardFile s : files) {
            Path path = new Path(s.path());
            String now;
            try {
                FileStatus status = HadoopFs.get(path, conf).getFileStatus(path);
                if (status.getLen() == s.length() && status.getModificationTime() == s.modified()) {
                    continue;
                }
                now = status.getLen() + " bytes, modified " + Instant.ofEpochMilli(status.getModificationTime());
            } catch (FileNotFoundException e) {
                now = "gone";
            } catch (IOException e) {
                throw new UncheckedIOException("cannot check " + path, e);
            }
            throw new BadInputException(s.path() + ": changed while it was read (then: " + s.length() + " bytes, modified "
                    + Instant.ofEpochMilli(s.modified()) + "; now: " + now + "); nothing published: run again once it"
                    + " is written");
        }
    }

    /**
     * What to report for {@code failure} of a job that read {@code files}: the refusal of
     * {@link #checkUnchanged} where one of them changed since it was opened (a read that failed on
     * a file truncated meanwhile is that change, not an internal error), else {@code failure}.
     */
    public static RuntimeException changedOr(Iterable<ShardFile> files, Configuration conf, RuntimeException failure) {
        try {
            checkUnchanged(files, conf);
            return failure;
        } catch (BadInputException changed) {
            changed.addSuppressed(failure);
            return changed;
        } catch (RuntimeException unreadable) {
            failure.addSuppressed(unreadable);
            return failure;
        }
    }
}
