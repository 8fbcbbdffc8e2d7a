package dev.mergeval.runtime.generation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.runtime.GenerationParams;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Logits processing as Hugging Face's processors define it. */
class TokenSamplerTest {

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeSeenLogits() {
        float[] logits = {2f, -1f, 0.5f, 3f};
        TokenSampler s = new TokenSampler(GenerationParams.greedy(1).withRepetitionPenalty(2.0), 0, new int[] {0, 1});
        int token = s.next(logits);
        assertArrayEquals(new float[] {1f, -2f, 0.5f, 3f}, logits, 0f);
        assertEquals(3, token);
        // token 3 is now seen too: the next call penalises it
        float[] again = {2f, -1f, 0.5f, 3f};
        assertEquals(3, s.next(again));
        assertArrayEquals(new float[] {1f, -2f, 0.5f, 1.5f}, again, 0f);
    }

    private static Set<Integer> sampledSet(GenerationParams params, float[] logits, int draws) {
        Set<Integer> seen = new HashSet<>();
        for (int key = 0; key < draws; key++) {
            seen.add(new TokenSampler(params, key, new int[0]).next(logits.clone()));
        }
        return seen;
    }

    @Test
    void topKKeepsTheKLargest() {
        float[] logits = {0f, 3f, 1f, 2.9f, -1f};
        Set<Integer> s = sampledSet(new GenerationParams(1, 1.0, 2, 1.0, 1.0, 5L, List.of()), logits, 400);
        assertEquals(Set.of(1, 3), s);
    }

    @Test
    void topPKeepsTheSmallestSetAboveTheMass() {
        // probabilities ~ [0.60, 0.30, 0.08, 0.02]: top_p 0.85 keeps tokens 0 and 1 only
        float[] logits = {(float) Math.log(0.60), (float) Math.log(0.30), (float) Math.log(0.08), (float) Math.log(0.02)};
        assertEquals(Set.of(0, 1), sampledSet(new GenerationParams(1, 1.0, 0, 0.85, 1.0, 9L, List.of()), logits, 400));
        assertEquals(Set.of(0), sampledSet(new GenerationParams(1, 1.0, 0, 0.5, 1.0, 9L, List.of()), logits, 100));
    }

    @Test
    void samplingFollowsTheDistribution() {
        float[] logits = {(float) Math.log(0.7), (float) Math.log(0.3)};
        int ones = 0;
        int n = 4000;
        for (int key = 0; key < n; key++) {
            ones += new TokenSampler(new GenerationParams(1, 1.0, 0, 1.0, 1.0, 11L, List.of()), key, new int[0])
                    .next(logits.clone());
        }
        assertTrue(Math.abs(ones / (double) n - 0.3) < 0.03, "token 1 drawn " + ones + " of " + n);
    }

    @Test
    void greedyTakesTheFirstMaximum() {
        assertEquals(1, TokenSampler.argMax(new float[] {0f, 5f, 5f, -1f}));
    }
}
