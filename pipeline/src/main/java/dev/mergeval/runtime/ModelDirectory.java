package dev.mergeval.runtime;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A Hugging Face model directory on any Hadoop {@code FileSystem} (local path, {@code file:},
 * {@code hdfs:}, {@code s3a:}): reads its small JSON side files.
 */
public final class ModelDirectory {

    private final Path root;
    private final FileSystem fs;

    public ModelDirectory(String uri, Configuration conf) {
        this.root = new Path(uri);
        try {
            this.fs = root.getFileSystem(conf);
            if (!fs.getFileStatus(root).isDirectory()) {
                throw new BadInputException("model source " + uri + " is not a directory");
            }
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException("model directory not found: " + uri, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open model directory " + uri, e);
        }
    }

    /** The directory as given. */
    public String uri() {
        return root.toString();
    }

    /** The full path of a file in the directory. */
    public String resolve(String name) {
        return new Path(root, name).toString();
    }

    public boolean exists(String name) {
        try {
            return fs.exists(new Path(root, name));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + resolve(name), e);
        }
    }

    /** The file's bytes; a missing file is a {@link BadInputException} naming it. */
    public byte[] readBytes(String name) {
        Path p = new Path(root, name);
        try (InputStream in = fs.open(p)) {
            return in.readAllBytes();
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException("missing file " + p, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }

    public String readText(String name) {
        return new String(readBytes(name), StandardCharsets.UTF_8);
    }
}
