package dev.mergeval.common;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * SHA-256 as lower-case hex: of bytes, of text, and of files on any Hadoop filesystem, streamed
 * (constant memory, through {@link FileDigest#SHA256}, so the digest of a local file is remembered
 * per file version).
 */
public final class Sha256 {

    private Sha256() {
    }

    /** Lower-case hex SHA-256 of {@code file} ({@link FileDigest#SHA256}). */
    public static String of(FileSystem fs, Path file) {
        return FileDigest.SHA256.of(fs, file);
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
