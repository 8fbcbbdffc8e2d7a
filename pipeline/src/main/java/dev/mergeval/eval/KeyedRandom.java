package dev.mergeval.eval;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Counter-based randomness keyed by names: the stream for a key depends only on the seed and the
 * key (for example an example id), never on the order in which items are visited, so sampling is
 * identical on any partitioning.
 */
public final class KeyedRandom {

    /** The project default seed for evaluation sampling. */
    public static final long DEFAULT_SEED = 1234L;

    private KeyedRandom() {
    }

    /** A 64-bit key: FNV-1a over the UTF-8 bytes of {@code key}, mixed with the seed by SplitMix64. */
    public static long hash(long seed, String key) {
        long h = 0xcbf29ce484222325L;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h ^ mix(seed));
    }

    /** A generator whose output is a function of (seed, key) only. */
    public static SplittableRandom stream(long seed, String key) {
        return new SplittableRandom(hash(seed, key));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
