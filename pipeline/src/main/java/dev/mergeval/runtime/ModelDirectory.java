package dev.mergeval.runtime;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
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
    /** Files read from memory instead of the directory (a merge's union tokenizer), by name. */
    private final Map<String, byte[]> replaced;

    private ModelDirectory(Path root, FileSystem fs, Map<String, byte[]> replaced) {
        this.root = root;
        this.fs = fs;
        this.replaced = replaced;
    }

    /** This directory with file {@code name} read as {@code bytes}, whether or not the directory has it. */
    public ModelDirectory withFile(String name, byte[] bytes) {
        Map<String, byte[]> files = new HashMap<>(replaced);
        files.put(name, bytes.clone());
        return new ModelDirectory(root, fs, Map.copyOf(files));
    }

    public ModelDirectory(String uri, Configuration conf) {
        this.replaced = Map.of();
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
        if (replaced.containsKey(name)) {
            return true;
        }
        try {
            return fs.exists(new Path(root, name));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check " + resolve(name), e);
        }
    }

    /** The file's bytes; a missing file is a {@link BadInputException} naming it. */
    public byte[] readBytes(String name) {
        if (replaced.containsKey(name)) {
            return replaced.get(name).clone();
        }
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
