package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.ParentNotDirectoryException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Publishes an output directory atomically on a Hadoop filesystem.
 *
 * <p>Protocol: {@link #stage} makes a hidden sibling of the output,
 * {@code .NAME.mergeval-staging-<random>} (same parent, so same filesystem and bucket); the
 * caller writes everything there and writes {@link #PROVENANCE_FILE} <em>last</em>;
 * {@link #publish} then moves it to the output name.
 *
 * <p>Invariant: whatever is at the output path is either absent, the previous complete output,
 * or the new complete output; a crash at any point leaves at worst a hidden staging or
 * set-aside directory next to it (recoverable by hand), never a partial directory
 * under the output name that carries the completeness marker. How:
 * <ul>
 *   <li>On filesystems with atomic directory rename ({@code file}, {@code hdfs}, {@code viewfs},
 *       {@code webhdfs}) the rename of the staging directory is the commit point. An existing
 *       output being replaced is first renamed aside, so for a moment the output is absent, never
 *       mixed, and is deleted only after the new one is in place.</li>
 *   <li>On object stores ({@code s3a} and all others) a rename is a copy, file by file, and not
 *       atomic. There the marker is the commit point: an old output loses its marker before any
 *       of its files move, and the new output's files are moved one by one with the marker moved
 *       last, so a reader that trusts only outputs with the marker never sees a partial one.</li>
 * </ul>
 * If publishing fails after the old output was set aside, it is moved back.
 */
public final class OutputPublisher {

    /** The completeness marker: provenance JSON, always the last file written to an output. */
    public static final String PROVENANCE_FILE = "mergeval_provenance.json";

    private static final Set<String> ATOMIC_RENAME_SCHEMES =
            Set.of("file", "hdfs", "viewfs", "webhdfs", "swebhdfs");

    private final FileSystem fs;
    private final boolean atomicRename;

    /** A publisher on {@code fs}; its scheme decides whether directory rename is atomic. */
    public OutputPublisher(FileSystem fs) {
        this(fs, fs.getUri().getScheme() != null && ATOMIC_RENAME_SCHEMES.contains(
                fs.getUri().getScheme().toLowerCase(Locale.ROOT)));
    }

    /** A publisher that uses the object-store protocol unless {@code atomicRename} (for tests). */
    OutputPublisher(FileSystem fs, boolean atomicRename) {
        this.fs = fs;
        this.atomicRename = atomicRename;
    }

    /** A publisher on the filesystem of {@code outUri}. */
    public static OutputPublisher forPath(String outUri, Configuration conf) {
        return new OutputPublisher(HadoopFs.get(new Path(outUri), conf));
    }

    /** The qualified output path for {@code outUri}. */
    public Path outputPath(String outUri) {
        return fs.makeQualified(new Path(outUri));
    }

    /**
     * Fails early, before any work, if {@code out} is a file (an output is a directory, and a file
     * there is someone's, {@code --overwrite} or not, as eval's and the sweep's outputs refuse it),
     * or holds a complete output and {@code overwrite} is false.
     */
    public void checkDestination(Path out, boolean overwrite) {
        FileStatus st = CheckpointResolver.statOrNull(fs, out);
        if (st != null && st.isFile()) {
            throw new BadInputException(out + ": output location is a file, not a directory");
        }
        if (!overwrite && isCompleteOutput(out)) {
            boolean ours = CheckpointResolver.isFile(fs, new Path(out, PROVENANCE_FILE));
            throw new BadInputException(out + (ours ? ": output exists, pass --overwrite to replace it"
                    : ": output exists as a folder that is not empty and holds no finished output; pass --overwrite"
                    + " to replace it whole, the files in it included"));
        }
    }

    /**
     * Fails if {@code out} is or holds any of {@code inputs} (by name, the files or directories a
     * job reads): publishing replaces {@code out} whole, so with {@code --overwrite} an output at an
     * input model's directory, or above it, would delete what the job read. An output inside an
     * input's directory replaces nothing of it.
     */
    public static void checkOutside(Path out, Map<String, List<String>> inputs, Configuration conf) {
        URI to = out.toUri();
        String prefix = slashed(to.getPath());
        String realPrefix = realPath(to).map(OutputPublisher::slashed).orElse(null);
        inputs.forEach((input, paths) -> {
            for (String path : paths) {
                Path p = new Path(path);
                URI in = HadoopFs.qualify(HadoopFs.get(p, conf), p).toUri();
                boolean sameStore = Objects.equals(in.getScheme(), to.getScheme())
                        && Objects.equals(in.getAuthority(), to.getAuthority());
                // Through symbolic links too: an output linked to an input's folder is that folder.
                boolean linked = realPrefix != null && realPath(in).map(r -> slashed(r).startsWith(realPrefix)).orElse(false);
                if ((sameStore && slashed(in.getPath()).startsWith(prefix)) || linked) {
                    throw new BadInputException(out + ": holds " + path + ", which this job reads (" + input
                            + "); write the output elsewhere");
                }
            }
        });
    }

    private static String slashed(String path) {
        return path.endsWith("/") ? path : path + "/";
    }

    /** A local file's path with every symbolic link resolved, where it exists. */
    public static Optional<String> realPath(URI uri) {
        if (!"file".equals(uri.getScheme())) {
            return Optional.empty();
        }
        try {
            return Optional.of(java.nio.file.Path.of(uri.getPath()).toRealPath().toString());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * True if {@code out} looks like a complete output that must not be replaced silently: it
     * has the marker, is a non-empty directory, or is a file.
     */
    public boolean isCompleteOutput(Path out) {
        FileStatus st = CheckpointResolver.statOrNull(fs, out);
        if (st == null) {
            return false;
        }
        if (st.isFile()) {
            return true;
        }
        if (CheckpointResolver.isFile(fs, new Path(out, PROVENANCE_FILE))) {
            return true;
        }
        try {
            return fs.listStatus(out).length > 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + out, e);
        }
    }

    /**
     * Creates and returns an empty hidden staging directory next to {@code outUri} (creating the
     * parent if needed).
     */
    public Path stage(String outUri) {
        return stage(outUri, UUID.randomUUID().toString());
    }

    /**
     * Creates, or finds from an interrupted earlier run, the staging directory of job {@code jobId}
     * next to {@code outUri}: a job whose id is derived from its content resumes where it stopped.
     */
    public Path stage(String outUri, String jobId) {
        Path out = outputPath(outUri);
        Path parent = out.getParent();
        if (parent == null) {
            throw new BadInputException(outUri + ": the output cannot be a filesystem root");
        }
        Path staging = new Path(parent, stagingPrefix(out.getName()) + jobId);
        try {
            if (!fs.mkdirs(staging)) {
                // The local filesystem's answer where a parent is a file or is not writable.
                throw new BadInputException(outUri + ": cannot create the directory " + staging
                        + " beside it (is a parent a file, or not writable?)");
            }
        } catch (ParentNotDirectoryException | FileAlreadyExistsException e) {
            // HDFS's, and S3A's (a parent is a file object), where the local filesystem answers false
            throw new BadInputException(outUri + ": a parent is not a directory (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create staging directory " + staging, e);
        }
        return staging;
    }

    /**
     * A publish refused because another run published a complete output there after this one's
     * start-up checks: this run's output is complete and stays in its staging directory, which the
     * message names.
     */
    public static final class Superseded extends BadInputException {
        Superseded(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Deletes a staging directory after {@code failure}, unless the failure is the publish's
     * {@link Superseded}, whose message sends the user to it.
     */
    public void discardAfter(Path staging, Throwable failure) {
        if (!(failure instanceof Superseded)) {
            discard(staging);
        }
    }

    /** The start of the name of every staging directory of an output named {@code name}. */
    public static String stagingPrefix(String name) {
        return "." + name + ".mergeval-staging-";
    }

    /**
     * Deletes the staging directories of the output named {@code name} under {@code parent} that
     * killed runs left (each staged under a new name, so none is resumed); the caller holds the
     * claim that no live run stages there. A parent not there yet holds none.
     */
    public void discardLeftovers(Path parent, String name) {
        String prefix = stagingPrefix(name);
        try {
            for (FileStatus f : fs.listStatus(parent, p -> p.getName().startsWith(prefix))) {
                discard(f.getPath());
            }
        } catch (FileNotFoundException e) {
            // nothing was staged
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the staging directories in " + parent, e);
        }
    }

    /** Deletes a staging directory (after a failed job). */
    public void discard(Path staging) {
        try {
            fs.delete(staging, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete staging directory " + staging, e);
        }
    }

    /**
     * Moves the finished {@code staging} directory to {@code out}.
     *
     * @throws IllegalStateException if {@code staging} lacks {@link #PROVENANCE_FILE}
     * @throws BadInputException if {@code out} is a complete output and {@code overwrite} is false
     *         ({@link Superseded})
     */
    public void publish(Path staging, Path out, boolean overwrite) {
        staging = fs.makeQualified(staging);
        out = fs.makeQualified(out);
        if (!CheckpointResolver.isFile(fs, new Path(staging, PROVENANCE_FILE))) {
            throw new IllegalStateException(staging + " has no " + PROVENANCE_FILE
                    + ": the output is not finished and is not published");
        }
        try {
            checkDestination(out, overwrite);
        } catch (BadInputException e) {
            // Another run published there after this one's start-up checks: say where this one's result is.
            throw new Superseded(e.getMessage() + "; this run's complete output is left in " + staging
                    + " (move it into place by hand, or delete it)", e);
        }
        try {
            Path aside = null;
            Path asideMarker = null;
            FileStatus existing = CheckpointResolver.statOrNull(fs, out);
            if (existing != null) {
                String tag = ".mergeval-old-" + UUID.randomUUID();
                aside = new Path(out.getParent(), "." + out.getName() + tag);
                Path marker = new Path(out, PROVENANCE_FILE);
                if (!atomicRename && existing.isDirectory() && CheckpointResolver.isFile(fs, marker)) {
                    asideMarker = new Path(out.getParent(), "." + out.getName() + tag + ".marker");
                    rename(marker, asideMarker);
                }
                rename(out, aside);
            }
            try {
                if (atomicRename) {
                    rename(staging, out);
                } else {
                    moveMarkerLast(staging, out);
                }
            } catch (IOException | RuntimeException e) {
                restore(aside, asideMarker, out, e);
                throw e;
            }
            if (!atomicRename) {
                fs.delete(staging, true);
            }
            if (aside != null) {
                fs.delete(aside, true);
            }
            if (asideMarker != null) {
                fs.delete(asideMarker, false);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot publish " + staging + " as " + out, e);
        }
    }

    private void restore(Path aside, Path asideMarker, Path out, Exception cause) {
        if (aside == null) {
            return;
        }
        try {
            // A partial new output (object-store protocol: no marker yet) gives way to the old.
            if (CheckpointResolver.statOrNull(fs, out) != null
                    && !CheckpointResolver.isFile(fs, new Path(out, PROVENANCE_FILE))) {
                fs.delete(out, true);
            }
            if (CheckpointResolver.statOrNull(fs, out) == null) {
                rename(aside, out);
                if (asideMarker != null) {
                    rename(asideMarker, new Path(out, PROVENANCE_FILE));
                }
            }
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(new IOException("the previous output could not be moved back;"
                    + " it is kept at " + aside + (asideMarker == null ? "" : " with its marker at "
                    + asideMarker), e));
        }
    }

    /** Moves every file under {@code staging} to the same place under {@code out}, marker last. */
    private void moveMarkerLast(Path staging, Path out) throws IOException {
        List<Path> files = new ArrayList<>();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(staging, true);
        while (it.hasNext()) {
            files.add(it.next().getPath());
        }
        String root = staging.toUri().getPath();
        Path marker = null;
        fs.mkdirs(out);
        for (Path f : files) {
            String rel = f.toUri().getPath().substring(root.length() + 1);
            if (rel.equals(PROVENANCE_FILE)) {
                marker = f;
                continue;
            }
            Path dst = new Path(out, rel);
            fs.mkdirs(dst.getParent());
            rename(f, dst);
        }
        rename(marker, new Path(out, PROVENANCE_FILE));
    }

    private void rename(Path from, Path to) throws IOException {
        if (!fs.rename(from, to)) {
            throw new IOException("rename " + from + " -> " + to + " failed");
        }
    }
}
