package dev.mergeval.merge.plan;

import java.io.Serializable;

/**
 * What a finished unit wrote: its part file and length; {@code reused} when the part was already
 * there from an interrupted run of the same plan. (Parts are not hashed: the shards assembled
 * from them are.)
 */
public record UnitResult(int unitId, String partPath, long bytes, boolean reused)
        implements Serializable {
}
