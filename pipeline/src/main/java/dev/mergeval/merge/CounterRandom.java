package dev.mergeval.merge;

import java.nio.charset.StandardCharsets;

/**
 * Counter-based uniform random numbers: the value for an element is a pure function of
 * (seed, tensor name, model, element index), so chunking, threading and executor placement cannot
 * change it. A stream key is derived by SplitMix64 mixing of the seed with a 64-bit hash of the
 * tensor name and the model's position among the config's input models (base first), not its path:
 * the same weights merge to the same bytes wherever they are stored. Element {@code i} of a stream is SplitMix64's output at counter
 * {@code i + 1}: {@code mix64(key + (i + 1) * 0x9E3779B97F4A7C15)}, whose top 53 bits give a double
 * in [0, 1). (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014.)
 */
public final class CounterRandom {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private CounterRandom() {
    }

    /** SplitMix64's finaliser (variant 13 of Stafford's mixers). */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** FNV-1a over the UTF-8 bytes, then mixed. */
    public static long hash64(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xFF);
            h *= 0x100000001B3L;
        }
        return mix64(h);
    }

    /** The stream key for one (seed, tensor, model position). */
    public static long streamKey(long seed, String tensorName, int modelIndex) {
        return mix64(mix64(mix64(seed) ^ hash64(tensorName)) ^ mix64(modelIndex + 1L));
    }

    /** Uniform double in [0, 1) for element {@code index} of the stream {@code key}. */
    public static double uniform(long key, long index) {
        return (mix64(key + (index + 1) * GOLDEN_GAMMA) >>> 11) * 0x1.0p-53;
    }
}
