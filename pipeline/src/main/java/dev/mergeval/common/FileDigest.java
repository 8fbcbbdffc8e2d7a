package dev.mergeval.common;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import net.jpountz.xxhash.StreamingXXHash64;
import net.jpountz.xxhash.XXHashFactory;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The digests that provenance records of the files a job reads and writes, as lower-case hex.
 *
 * <p>{@link #XXH64} (seed 0, printed big-endian as {@code xxhsum} prints it, so
 * {@code xxhsum FILE} checks a recorded value) is the default for checkpoints: it runs at about
 * 10 GB/s per core through lz4-java's native build, so hashing every input and output byte costs a
 * fraction of the copy of those bytes, where SHA-256 (1.6 GB/s per core here) costs more CPU than
 * the whole merge. It identifies a file version and catches corruption; it is not a defence against
 * a forger, so {@link #SHA256} is there for whoever asks for one.
 *
 * <p>Digests of local files are remembered per file version ({@link DigestCache}).
 */
public enum FileDigest {

    XXH64("xxh64") {
        @Override
        public Stream open() {
            StreamingXXHash64 h = XXH.newStreamingHash64(0);
            return new Stream() {
                @Override
                public void update(byte[] bytes, int off, int len) {
                    h.update(bytes, off, len);
                }

                @Override
                public String hex() {
                    try {
                        return String.format("%016x", h.getValue());
                    } finally {
                        h.close();
                    }
                }
            };
        }
    },

    SHA256("sha256") {
        @Override
        public Stream open() {
            MessageDigest md = Sha256.digest();
            return new Stream() {
                @Override
                public void update(byte[] bytes, int off, int len) {
                    md.update(bytes, off, len);
                }

                @Override
                public String hex() {
                    return HexFormat.of().formatHex(md.digest());
                }
            };
        }
    };

    private static final XXHashFactory XXH = XXHashFactory.fastestInstance();
    private static final int BUFFER = 1 << 20;

    private final String id;

    FileDigest(String id) {
        this.id = id;
    }

    /** The name used on the command line and as the provenance key: {@code xxh64} or {@code sha256}. */
    public String id() {
        return id;
    }

    @Override
    public String toString() {
        return id;
    }

    /** The digest named {@code id} (case-insensitive); a bad name is bad input naming {@code what}. */
    public static FileDigest parse(String id, String what) {
        for (FileDigest d : values()) {
            if (d.id.equals(id.toLowerCase(Locale.ROOT))) {
                return d;
            }
        }
        throw new BadInputException(what + ": unknown digest '" + id + "' (expected xxh64 or sha256)");
    }

    /** A digest being computed over bytes as they pass. */
    public interface Stream {
        void update(byte[] bytes, int off, int len);

        /** Completes the digest and returns it as lower-case hex; the stream is spent. */
        String hex();
    }

    /** A fresh streaming digest of this kind. */
    public abstract Stream open();

    /** The digest of {@code file} (remembered per version where it is local). */
    public String of(FileSystem fs, Path file) {
        RawLocalFileSystem local = fs instanceof LocalFileSystem checksummed
                ? (RawLocalFileSystem) checksummed.getRawFileSystem()
                : fs instanceof RawLocalFileSystem raw ? raw : null;
        if (local != null) {
            return DigestCache.digest(this, local.pathToFile(file).toPath(), () -> stream(fs, file));
        }
        return stream(fs, file);
    }

    private String stream(FileSystem fs, Path file) {
        Stream digest = open();
        byte[] buf = new byte[BUFFER];
        try (InputStream in = fs.open(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                digest.update(buf, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " for its " + id, e);
        }
        return digest.hex();
    }
}
