package dev.mergeval.merge.plan;

/**
 * How the planner cuts the work, and what it lets through.
 *
 * @param maxShardBytes output shard size limit (HF's {@code max_shard_size})
 * @param maxUnitBytes output bytes above which an element-wise tensor is split into row ranges of
 *     its own units; bounds a unit's run time, not its memory
 * @param chunkElements elements read per input at a time by element-wise methods; bounds memory.
 *     The default, 2^18 (1 MiB of float32 per input), keeps every per-chunk array below G1's
 *     humongous-object threshold and measured the same CPU time as 2^22 with less than half the
 *     peak heap (docs/benchmarks.md)
 * @param mixedArchitectures merge models whose {@code config.json} name different architectures
 *     (mergekit-yaml's {@code --allow-crimes}); refused otherwise
 */
public record PlanOptions(long maxShardBytes, long maxUnitBytes, int chunkElements, boolean mixedArchitectures) {

    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;
    public static final long DEFAULT_MAX_UNIT_BYTES = 256L << 20;
    public static final int DEFAULT_CHUNK_ELEMENTS = 1 << 18;

    public PlanOptions {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("max shard size must be > 0, got " + maxShardBytes);
        }
        if (maxUnitBytes <= 0 || chunkElements <= 0) {
            throw new IllegalArgumentException("unit size and chunk size must be > 0");
        }
    }

    /** Options that refuse mixed architectures. */
    public PlanOptions(long maxShardBytes, long maxUnitBytes, int chunkElements) {
        this(maxShardBytes, maxUnitBytes, chunkElements, false);
    }

    public static PlanOptions defaults() {
        return new PlanOptions(DEFAULT_MAX_SHARD_BYTES, DEFAULT_MAX_UNIT_BYTES, DEFAULT_CHUNK_ELEMENTS);
    }

    public PlanOptions withMaxShardBytes(long bytes) {
        return new PlanOptions(bytes, maxUnitBytes, chunkElements, mixedArchitectures);
    }

    public PlanOptions withMaxUnitBytes(long bytes) {
        return new PlanOptions(maxShardBytes, bytes, chunkElements, mixedArchitectures);
    }

    public PlanOptions withChunkElements(int elements) {
        return new PlanOptions(maxShardBytes, maxUnitBytes, elements, mixedArchitectures);
    }

    public PlanOptions withMixedArchitectures(boolean allowed) {
        return new PlanOptions(maxShardBytes, maxUnitBytes, chunkElements, allowed);
    }
}
