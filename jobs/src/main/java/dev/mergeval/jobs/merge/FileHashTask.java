package dev.mergeval.jobs.merge;

import dev.mergeval.common.Sha256;
import dev.mergeval.jobs.FailFast;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/** Executor side of hashing: the SHA-256 of one file, read where the executor runs. */
final class FileHashTask implements Function<String, String> {

    private static final long serialVersionUID = 1L;

    private final Broadcast<SerializableConfiguration> conf;

    FileHashTask(Broadcast<SerializableConfiguration> conf) {
        this.conf = conf;
    }

    @Override
    public String call(String file) {
        Path path = new Path(file);
        try {
            return Sha256.of(path.getFileSystem(conf.value().value()), path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot hash " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }
}
