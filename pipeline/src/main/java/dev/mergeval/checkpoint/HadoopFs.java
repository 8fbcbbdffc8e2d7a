package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Sha256;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.UnsupportedFileSystemException;

/** Resolves the Hadoop FileSystem for a path, and small whole-file reads and writes on it. */
public final class HadoopFs {

    private HadoopFs() {
    }

    /** A URI scheme at the start of a location ({@code s3a:}, {@code hdfs:}, {@code file:}, {@code merge:}). */
    private static final java.util.regex.Pattern SCHEME = java.util.regex.Pattern.compile("[a-zA-Z][a-zA-Z0-9+.-]*:");

    /** True when {@code location} starts with a URI scheme, so it is not a path relative to anything. */
    public static boolean hasScheme(String location) {
        return SCHEME.matcher(location).lookingAt();
    }

    /** See {@link #defaults()}; null until a job layer sets it. */
    private static volatile Configuration defaults;

    /**
     * The Hadoop settings for reads whose caller has no configuration of its own (suites and
     * datasets): those a job installed with {@link #useDefaults} in this JVM, for instance Spark's
     * {@code spark.hadoop.*} keys (an S3A endpoint and credentials), else the classpath's
     * {@code core-site.xml}. A copy, so callers cannot change the installed settings.
     */
    public static Configuration defaults() {
        Configuration c = defaults;
        return c == null ? new Configuration() : new Configuration(c);
    }

    /** Installs the settings {@link #defaults()} returns in this JVM (driver or executor). */
    public static void useDefaults(Configuration conf) {
        defaults = new Configuration(conf);
    }

    /**
     * The FileSystem of {@code path}. For {@code file://} this is the raw local filesystem:
     * the checksummed {@link LocalFileSystem} writes {@code .crc} sidecar files next to every output
     * (which do not belong in a Hugging Face model directory) and opens a new checker stream for
     * every positional read. It is {@link NioLocalFileSystem}, which sets permissions without
     * starting a process.
     */
    public static FileSystem get(Path path, Configuration conf) {
        try {
            if (plainLocal(path, conf)) {
                return NioLocalFileSystem.create(conf);
            }
            FileSystem fs = path.getFileSystem(conf);
            return fs instanceof LocalFileSystem ? NioLocalFileSystem.create(conf) : fs;
        } catch (UnsupportedFileSystemException e) {
            throw new BadInputException(path + ": no filesystem for scheme '"
                    + path.toUri().getScheme() + "' (is its connector on the classpath?)");
        } catch (IOException e) {
            throw new UncheckedIOException("no filesystem for " + path, e);
        }
    }

    /**
     * True for a {@code file:} path (or one without a scheme where the default filesystem is local)
     * whose implementation the settings leave as Hadoop's. Such a path skips
     * {@link Path#getFileSystem}: its first call loads every filesystem on the class path (HDFS,
     * S3A, ...) and logs the user in, about a sixth of a second of a local merge, for an instance that
     * would be replaced anyway.
     */
    private static boolean plainLocal(Path path, Configuration conf) {
        String scheme = path.toUri().getScheme();
        if (scheme == null) {
            scheme = FileSystem.getDefaultUri(conf).getScheme();
        }
        return "file".equals(scheme) && conf.get("fs.file.impl") == null;
    }

    /** Lower-case hex SHA-256 of the file at {@code uri} ({@link Sha256#of(FileSystem, Path)}). */
    public static String sha256(String uri, Configuration conf) {
        return digest(uri, FileDigest.SHA256, conf);
    }

    /** The {@code kind} digest of the file at {@code uri} ({@link FileDigest#of}). */
    public static String digest(String uri, FileDigest kind, Configuration conf) {
        Path p = new Path(uri);
        return kind.of(get(p, conf), p);
    }

    /** {@code path} made absolute and fully qualified against its filesystem. */
    public static Path qualify(FileSystem fs, Path path) {
        return fs.makeQualified(path);
    }

    /** The raw local filesystem, so that {@code java.nio} callers write through the same code as remote ones. */
    public static FileSystem local() {
        return get(new Path("file:///"), new Configuration());
    }

    /** A {@code java.nio} path as an absolute, normalized {@code file:} Hadoop path (no trailing slash). */
    public static Path of(java.nio.file.Path path) {
        return new Path("file", null, path.toAbsolutePath().normalize().toString());
    }

    /**
     * A {@code java.nio} path as a location string that {@link Path#Path(String)} reads back to the
     * same file: {@code file://} and the absolute, normalized path as it is (with a trailing slash
     * for a directory, as {@link java.nio.file.Path#toUri()}). {@code toUri()}'s own string escapes
     * a space as {@code %20}, which Hadoop reads as those three characters.
     */
    public static String location(java.nio.file.Path path) {
        return "file://" + path.toAbsolutePath().normalize().toUri().getPath();
    }

    /** A UTF-8 writer that creates or replaces {@code file} (parent directories are created as needed). */
    public static Writer writer(FileSystem fs, Path file) throws IOException {
        return new BufferedWriter(new OutputStreamWriter(fs.create(file, true), StandardCharsets.UTF_8));
    }

    /** Creates or replaces {@code file} with {@code text} in UTF-8. */
    public static void writeString(FileSystem fs, Path file, String text) {
        try (Writer w = writer(fs, file)) {
            w.write(text);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /**
     * Writes {@code file} so that readers see all of it or nothing: the text goes to a hidden sibling
     * that is then renamed (a rename of one file is atomic on local and HDFS filesystems, and on object
     * stores a copy whose object appears whole). An existing {@code file} is replaced.
     */
    public static void writeAtomically(FileSystem fs, Path file, String text) {
        Path tmp = new Path(file.getParent(), "." + file.getName() + ".tmp-" + UUID.randomUUID());
        writeString(fs, tmp, text);
        try {
            fs.delete(file, false);
            if (!fs.rename(tmp, file)) {
                throw new IOException("rename " + tmp + " -> " + file + " failed");
            }
        } catch (IOException e) {
            try {
                fs.delete(tmp, false);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** The whole of {@code file} as UTF-8 text. */
    public static String readString(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
