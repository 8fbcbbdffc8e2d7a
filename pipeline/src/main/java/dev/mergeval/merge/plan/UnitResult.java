package dev.mergeval.merge.plan;

import java.io.Serializable;

/**
 * What a finished unit wrote: its part file (null when it wrote straight into the shards, see
 * {@link InPlaceShards}) and its byte count; {@code reused} when the unit had already finished in an
 * interrupted run of the same plan. (Parts are not hashed: the shards are.)
 */
public record UnitResult(int unitId, String partPath, long bytes, boolean reused)
        implements Serializable {
}
