package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Pins each derivation to values printed by the classes it replaced (eval/KeyedRandom,
 * train/KeyedRandom, merge/CounterRandom, DjlLanguageModel.streamKey with TokenSampler.mix), so
 * committed datasets, masks and samples cannot drift silently.
 */
class KeyedRandomTest {

    @Test
    void evalHashAndStreamKeepTheirValues() {
        assertEquals(8302579822079283113L, KeyedRandom.hash(1234, "item-17"));
        assertEquals(3279993736826815500L, KeyedRandom.stream(1234, "item-17").nextLong());
    }

    @Test
    void namedStreamsKeepTheirValues() {
        assertEquals(6568601831073565380L, KeyedRandom.named(0, "a").nextLong());
        List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
        KeyedRandom.shuffle(order, KeyedRandom.named(0, "x"));
        assertEquals(List.of(1, 3, 6, 4, 9, 8, 5, 2, 0, 7), order);
    }

    @Test
    void counterStreamsKeepTheirValues() {
        long key = KeyedRandom.counterKey(0, "model.layers.0.self_attn.q_proj.weight", 1);
        assertEquals(5343370919316227487L, key);
        assertEquals(0.5288189838778496, KeyedRandom.uniform(key, 0));
        assertEquals(0.12398747896200168, KeyedRandom.uniform(key, 123456789L));
        assertNotEquals(key, KeyedRandom.counterKey(0, "model.layers.0.self_attn.q_proj.weight", 0));
    }

    @Test
    void samplingStreamsKeepTheirValues() {
        long key = KeyedRandom.textKey("a");
        assertEquals(-5808556873153909620L, key);
        assertEquals(6019661151011953434L, KeyedRandom.sampling(0, key).nextLong());
    }
}
