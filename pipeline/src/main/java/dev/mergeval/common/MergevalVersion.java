package dev.mergeval.common;

/** The version recorded in every artifact's provenance. */
public final class MergevalVersion {
    /** Kept in step with the Maven project version. */
    public static final String VERSION = "0.1.0-SNAPSHOT";

    private MergevalVersion() {
    }
}
