package dev.mergeval.jobs;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A command's {@code --out}: a directory on any Hadoop filesystem. A path without a scheme is a
 * local path, relative to the working directory, whatever {@code fs.defaultFS} says, so that
 * {@code --out results} means the same on a laptop and on a cluster gateway.
 *
 * @param fs   its filesystem
 * @param path the fully qualified directory
 */
public record OutputLocation(FileSystem fs, Path path) {

    public static OutputLocation resolve(String out, Configuration conf) {
        if (out == null || out.isBlank()) {
            throw new BadInputException("--out: empty output location");
        }
        Path p = qualify(out);
        FileSystem fs = HadoopFs.get(p, conf);
        return new OutputLocation(fs, fs.makeQualified(p));
    }

    /** {@code location} as an absolute Hadoop path: scheme-less paths are local files. */
    public static Path qualify(String location) {
        Path p = new Path(location);
        return p.toUri().getScheme() != null ? p : HadoopFs.of(java.nio.file.Path.of(location));
    }

    /** How the runtime and messages should name {@code p}: a plain path on the local filesystem, else the URI. */
    public static String name(Path p) {
        return "file".equals(p.toUri().getScheme()) ? p.toUri().getPath() : p.toString();
    }

    /** This location for messages. */
    public String display() {
        return name(path);
    }

    public Path child(String name) {
        return new Path(path, name);
    }

    /** The entries of the directory; empty when it does not exist. */
    public List<FileStatus> list() {
        try {
            return Arrays.asList(fs.listStatus(path));
        } catch (FileNotFoundException absent) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + display(), e);
        }
    }

    /** Fails with a bad-input error when the location is an existing file. */
    public void requireNotFile() {
        try {
            if (fs.getFileStatus(path).isFile()) {
                throw new BadInputException(display() + ": output location is a file, not a directory");
            }
        } catch (FileNotFoundException absent) {
            // Absent is fine: it will be created.
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + display(), e);
        }
    }

    /**
     * Before {@code --overwrite} deletes this directory: none of {@code inputs} (locations, a
     * {@code BASE+ADAPTER} one by its parts) may be it or lie inside it, nor may the working
     * directory, else a bad-input error naming the first, read by {@code reader} (such as "this
     * sweep reads").
     */
    public void requireHoldsNone(List<String> inputs, String reader) {
        for (String input : inputs) {
            for (String part : input.split("\\+")) {
                if (!part.isBlank() && contains(part)) {
                    throw new BadInputException(display() + ": --overwrite would delete " + part + ", which " + reader
                            + "; choose another output directory");
                }
            }
        }
        String cwd = System.getProperty("user.dir");
        if ("file".equals(path.toUri().getScheme()) && contains(cwd)) {
            throw new BadInputException(display() + ": --overwrite would delete the working directory " + cwd
                    + ", which the command runs in; choose another output directory");
        }
    }

    /**
     * True when {@code location} is this directory or lies inside it, also through symbolic links
     * (an input reached by a link into this directory is in it).
     */
    public boolean contains(String location) {
        Path inner = qualify(location);
        if (within(inner.toString(), path.toString())) {
            return true;
        }
        Optional<String> realInner = OutputPublisher.realPath(inner.toUri());
        Optional<String> realOuter = OutputPublisher.realPath(path.toUri());
        return realInner.isPresent() && realOuter.isPresent() && within(realInner.get(), realOuter.get());
    }

    private static boolean within(String inner, String outer) {
        return inner.equals(outer) || inner.startsWith(outer.endsWith("/") ? outer : outer + "/");
    }
}
