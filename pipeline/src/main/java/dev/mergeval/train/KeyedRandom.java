package dev.mergeval.train;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Randomness keyed by a seed and a name: {@code of(seed, "harmful-split")} always yields the same
 * stream, whatever else was drawn before, so adding a new use of randomness never shifts an old
 * one. The stream's start is the first 8 bytes of SHA-256 of {@code seed + "/" + name}.
 */
public final class KeyedRandom {

    private KeyedRandom() {
    }

    public static SplittableRandom of(long seed, String name) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256")
                    .digest((seed + "/" + name).getBytes(StandardCharsets.UTF_8));
            long s = 0;
            for (int i = 0; i < 8; i++) {
                s = (s << 8) | (d[i] & 0xFF);
            }
            return new SplittableRandom(s);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
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
}
