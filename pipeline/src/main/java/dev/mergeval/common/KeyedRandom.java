package dev.mergeval.common;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Randomness keyed by a seed and a name: every stream is a pure function of (seed, key), never of
 * what was drawn before or of the order, partitioning, chunking or thread that visits it, so adding
 * a use of randomness never shifts an old one and a distributed run equals a local one.
 *
 * <p>Four derivations exist because committed outputs depend on each one's exact values; each is
 * kept bit for bit and named after what it keys:
 * <ul>
 *   <li>{@link #hash}/{@link #stream}: eval item sampling and GSM8K shots.
 *       {@code hash(seed, key) = mix64(fnv1a(utf8(key)) ^ mix64(seed))}.</li>
 *   <li>{@link #named}: toy data generation and training batch order. The stream starts at the first
 *       8 bytes (big-endian) of {@code SHA-256(seed + "/" + name)}.</li>
 *   <li>{@link #counterKey}/{@link #uniform}: per-element masks and initialisations (DARE/DELLA,
 *       RESTA, LoRA A, the safety subspace's randomized SVD), counter-based so any element is drawn
 *       without the ones before it: {@code key = mix64(mix64(mix64(seed) ^ mix64(fnv1a(utf8(name)))) ^ mix64(index + 1))},
 *       element {@code i} is SplitMix64's output at counter {@code i + 1},
 *       {@code mix64(key + (i + 1) * 0x9E3779B97F4A7C15)}, whose top 53 bits give a double in [0, 1).
 *       (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", OOPSLA 2014.)</li>
 *   <li>{@link #textKey}/{@link #sampling}: token sampling in generation, one stream per prompt:
 *       {@code SplittableRandom(mix64(seed * 0x9E3779B97F4A7C15 + fnv1a(UTF-16 units of the prompt)))}.</li>
 * </ul>
 * {@code mix64} is SplitMix64's finaliser (variant 13 of Stafford's mixers); {@code fnv1a} is 64-bit FNV-1a.
 */
public final class KeyedRandom {

    /** The seed every command and file uses when none is given. */
    public static final long DEFAULT_SEED = 0L;

    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
    private static final long FNV_OFFSET = 0xCBF29CE484222325L;
    private static final long FNV_PRIME = 0x100000001B3L;

    private KeyedRandom() {
    }

    /** SplitMix64's finaliser. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A 64-bit key of {@code key} under {@code seed} (eval sampling). */
    public static long hash(long seed, String key) {
        return mix64(fnv1a(key) ^ mix64(seed));
    }

    /** A generator whose output is a function of (seed, key) only: {@code new SplittableRandom(hash(seed, key))}. */
    public static SplittableRandom stream(long seed, String key) {
        return new SplittableRandom(hash(seed, key));
    }

    /** The stream named {@code name} under {@code seed}, started from SHA-256 (toy data, batch order). */
    public static SplittableRandom named(long seed, String name) {
        byte[] d = Sha256.digest().digest((seed + "/" + name).getBytes(StandardCharsets.UTF_8));
        long s = 0;
        for (int i = 0; i < 8; i++) {
            s = (s << 8) | (d[i] & 0xFF);
        }
        return new SplittableRandom(s);
    }

    /** Fisher-Yates shuffle in place, driven by {@code rng}. */
    public static <T> void shuffle(List<T> list, SplittableRandom rng) {
        for (int i = list.size() - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            T t = list.get(i);
            list.set(i, list.get(j));
            list.set(j, t);
        }
    }

    /**
     * The counter stream key for one (seed, name, index): for merges the name is the tensor's and
     * the index the model's position among the config's input models (base first), not its path,
     * so the same weights merge to the same bytes wherever they are stored.
     */
    public static long counterKey(long seed, String name, int index) {
        return mix64(mix64(mix64(seed) ^ mix64(fnv1a(name))) ^ mix64(index + 1L));
    }

    /** Uniform double in [0, 1) for element {@code index} of the counter stream {@code key}. */
    public static double uniform(long key, long index) {
        return (mix64(key + (index + 1) * GOLDEN_GAMMA) >>> 11) * 0x1.0p-53;
    }

    /** FNV-1a over the UTF-16 units of {@code text}, unmixed: a prompt's sampling key, independent of its batch position. */
    public static long textKey(String text) {
        long h = FNV_OFFSET;
        for (int i = 0; i < text.length(); i++) {
            h ^= text.charAt(i);
            h *= FNV_PRIME;
        }
        return h;
    }

    /** The sampling stream of the sequence {@code key} under {@code seed}. */
    public static SplittableRandom sampling(long seed, long key) {
        return new SplittableRandom(mix64(seed * GOLDEN_GAMMA + key));
    }

    private static long fnv1a(String s) {
        long h = FNV_OFFSET;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= FNV_PRIME;
        }
        return h;
    }
}
