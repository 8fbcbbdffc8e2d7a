package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.mergeval.common.FileDigest;

/**
 * A file, its length in bytes and its digest as hex: SHA-256, or XXH64 where the file is a
 * checkpoint shard hashed with the merge's default digest ({@link FileDigest}); the other is absent.
 */
public record FileHash(String path, long bytes, @JsonInclude(JsonInclude.Include.NON_NULL) String sha256,
                       @JsonInclude(JsonInclude.Include.NON_NULL) String xxh64) {

    /** A file with its SHA-256. */
    public FileHash(String path, long bytes, String sha256) {
        this(path, bytes, sha256, null);
    }

    /** A file with its digest of kind {@code kind}. */
    public static FileHash of(String path, long bytes, FileDigest kind, String hex) {
        return kind == FileDigest.SHA256 ? new FileHash(path, bytes, hex, null) : new FileHash(path, bytes, null, hex);
    }
}
