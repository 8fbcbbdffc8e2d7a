package dev.mergeval.report;

import dev.mergeval.common.MergevalVersion;
import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * How and when a sweep ran, for {@code summary.json}: start and end times and the versions of what
 * ran it (Mergeval, Java, OS and architecture, plus whatever the caller adds, e.g. Spark).
 */
public record SweepProvenance(Instant startedAt, Instant finishedAt, Map<String, String> versions) {
    public SweepProvenance {
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(finishedAt, "finishedAt");
        versions = Collections.unmodifiableMap(new TreeMap<>(versions));
    }

    /** This JVM's versions plus {@code extra} (e.g. {@code spark -> 3.5.3}). */
    public static SweepProvenance of(Instant startedAt, Instant finishedAt, Map<String, String> extra) {
        Map<String, String> v = new TreeMap<>(extra);
        v.put("mergeval", MergevalVersion.VERSION);
        v.put("java", System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        v.put("arch", System.getProperty("os.arch"));
        return new SweepProvenance(startedAt, finishedAt, v);
    }
}
