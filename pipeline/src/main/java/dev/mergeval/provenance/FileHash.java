package dev.mergeval.provenance;

/** A file, its length in bytes and its SHA-256 (hex). */
public record FileHash(String path, long bytes, String sha256) {
}
