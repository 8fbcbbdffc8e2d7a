package dev.mergeval.jobs.merge;

import dev.mergeval.common.FileDigest;
import dev.mergeval.jobs.FailFast;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/** Executor side of hashing: the digest of one file, read where the executor runs. */
final class FileHashTask implements Function<String, String> {

    private static final long serialVersionUID = 1L;

    private final Broadcast<SerializableConfiguration> conf;
    private final FileDigest kind;

    FileHashTask(Broadcast<SerializableConfiguration> conf, FileDigest kind) {
        this.conf = conf;
        this.kind = kind;
    }

    @Override
    public String call(String file) {
        Path path = new Path(file);
        try {
            return kind.of(path.getFileSystem(conf.value().value()), path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hash " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }
}
