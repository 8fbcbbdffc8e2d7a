package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.UnsupportedFileSystemException;

/** Resolves the Hadoop FileSystem for a path. */
public final class HadoopFs {

    private HadoopFs() {
    }

    /**
     * The FileSystem of {@code path}. For {@code file://} this is the raw local filesystem:
     * the checksummed {@link LocalFileSystem} writes {@code .crc} sidecar files next to every output
     * (which do not belong in a Hugging Face model directory) and opens a new checker stream for
     * every positional read.
     */
    public static FileSystem get(Path path, Configuration conf) {
        try {
            FileSystem fs = path.getFileSystem(conf);
            return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
        } catch (UnsupportedFileSystemException e) {
            throw new BadInputException(path + ": no filesystem for scheme '"
                    + path.toUri().getScheme() + "' (is its connector on the classpath?)");
        } catch (IOException e) {
            throw new UncheckedIOException("no filesystem for " + path, e);
        }
    }

    /** {@code path} made absolute and fully qualified against its filesystem. */
    public static Path qualify(FileSystem fs, Path path) {
        return fs.makeQualified(path);
    }
}
