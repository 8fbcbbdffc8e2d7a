package dev.mergeval.common;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * SHA-256 as lower-case hex: of bytes, of text, and of files on any Hadoop filesystem, streamed
 * (constant memory). The digest of a local file is remembered per file version
 * ({@link DigestCache}), so the same unchanged input is read once.
 */
public final class Sha256 {

    private static final int BUFFER = 1 << 20;

    private Sha256() {
    }

    /** Lower-case hex SHA-256 of {@code file}. */
    public static String of(FileSystem fs, Path file) {
        RawLocalFileSystem local = fs instanceof LocalFileSystem checksummed
                ? (RawLocalFileSystem) checksummed.getRawFileSystem()
                : fs instanceof RawLocalFileSystem raw ? raw : null;
        if (local != null) {
            return DigestCache.sha256(local.pathToFile(file).toPath(), () -> stream(fs, file));
        }
        return stream(fs, file);
    }

    private static String stream(FileSystem fs, Path file) {
        MessageDigest md = digest();
        byte[] buf = new byte[BUFFER];
        try (InputStream in = fs.open(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " for sha256", e);
        }
        return hex(md);
    }

    /** Lower-case hex SHA-256 of the UTF-8 bytes of {@code text}. */
    public static String ofText(String text) {
        return of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Lower-case hex SHA-256 of {@code bytes}. */
    public static String of(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    /** A fresh SHA-256 digest, for hashing a stream while it is written or read. */
    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Completes {@code md} and returns its value as lower-case hex. */
    public static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }
}
