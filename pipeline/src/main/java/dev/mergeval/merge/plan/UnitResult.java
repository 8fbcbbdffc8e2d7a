package dev.mergeval.merge.plan;

import java.io.Serializable;

/**
 * What a finished unit wrote: its part file, length and SHA-256; {@code reused} when the part was
 * already there from an interrupted run of the same plan.
 */
public record UnitResult(int unitId, String partPath, long bytes, String sha256, boolean reused)
        implements Serializable {
}
