package dev.mergeval.runtime.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TestModels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a server needs of the runtime, on the toy aligned model: one batch whose rows have their own
 * settings gives each row what it gives alone, a listener sees every token as it is chosen, and
 * per-token prompt log-probabilities add up to the scorer's log-likelihood.
 */
class PerRowGenerationTest {

    private static DjlLanguageModel model;

    @BeforeAll
    static void load() {
        model = LanguageModels.loadDirectory(TestModels.projectRoot().resolve("models/toy/aligned").toString(),
                new Configuration(), RuntimeOptions.cpu());
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /**
     * Near the end of the context (the toy model's is 512) a row's budget is its own: a shorter
     * prompt may run past the point where a longer one stops, in the same batch.
     */
    @Test
    void rowsNearTheContextEndGiveWhatTheyGiveAlone() {
        List<int[]> ids = new ArrayList<>();
        for (int length : new int[] {500, 508}) {
            int[] p = new int[length];
            java.util.Arrays.fill(p, 300);
            p[0] = 1;
            ids.add(p);
        }
        List<GenerationParams> settings = List.of(GenerationParams.greedy(11), GenerationParams.greedy(11));
        long[] keys = {1, 2};
        List<Completion> batched = model.generateIds(ids, keys, settings, null);
        for (int i = 0; i < ids.size(); i++) {
            Completion alone = model.generateIds(List.of(ids.get(i)), new long[] {keys[i]}, List.of(settings.get(i)), null)
                    .get(0);
            assertEquals(alone.outputIds(), batched.get(i).outputIds(), "row " + i);
            assertTrue(ids.get(i).length + alone.outputIds().size() <= 512, "row " + i + " within the context");
        }
    }

    @Test
    void rowsWithTheirOwnSettingsGiveWhatTheyGiveAlone() {
        List<String> prompts = List.of("Once upon a time", "User: Tell me a story\nAssistant:", "Once upon a time, there was", "A cat sat");
        String stop = model.generate(List.of(prompts.get(2)), GenerationParams.greedy(20)).get(0).text().substring(3, 5);
        List<GenerationParams> settings = List.of(
                GenerationParams.greedy(12),
                new GenerationParams(9, 0.8, 0, 0.9, 1.0, 3L, List.of()),
                GenerationParams.greedy(20).withStopStrings(List.of(stop)),
                GenerationParams.greedy(1));
        List<int[]> ids = prompts.stream().map(p -> model.tokenizer().encode(p)).toList();
        long[] keys = prompts.stream().mapToLong(KeyedRandom::textKey).toArray();
        Map<Integer, List<Integer>> seen = new HashMap<>();
        Map<Integer, String> finishes = new HashMap<>();
        Map<Integer, Completion> early = new HashMap<>();
        List<Completion> batched = model.generateIds(ids, keys, settings, new BatchGenerator.TokenListener() {
            @Override
            public void onToken(int row, int token, float[] logits, String finish) {
                assertNull(finishes.get(row), "no token after the row finished");
                seen.computeIfAbsent(row, r -> new ArrayList<>()).add(token);
                if (finish != null) {
                    finishes.put(row, finish);
                }
            }

            @Override
            public void onFinish(int row, Completion completion) {
                assertEquals(finishes.get(row), completion.finishReason(), "the row's end follows its last token");
                assertNull(early.put(row, completion), "one end per row");
            }
        });
        for (int i = 0; i < prompts.size(); i++) {
            Completion alone = model.generate(List.of(prompts.get(i)), settings.get(i)).get(0);
            assertEquals(alone.text(), batched.get(i).text(), prompts.get(i));
            assertEquals(alone.outputIds(), batched.get(i).outputIds());
            assertEquals(alone.finishReason(), batched.get(i).finishReason());
            assertEquals(batched.get(i).outputIds(), seen.get(i), "the listener saw every token of row " + i);
            assertEquals(batched.get(i).finishReason(), finishes.get(i));
            assertEquals(batched.get(i).text(), early.get(i).text(), "the early completion is the row's");
            assertEquals(batched.get(i).outputIds(), early.get(i).outputIds());
        }
        assertEquals("stop", batched.get(2).finishReason());
        assertEquals(1, batched.get(3).outputIds().size());
    }

    @Test
    void tokenLogProbsAddUpToTheLogLikelihood() {
        String context = "Once upon a time";
        String continuation = " there was a big dog";
        int[] contextIds = model.tokenizer().encode(context);
        int[] whole = model.tokenizer().encode(context + continuation);
        List<BatchScorer.TokenLogProbs> scored = model.tokenLogProbs(List.of(whole, contextIds), 3);
        BatchScorer.TokenLogProbs s = scored.get(0);
        assertEquals(whole.length - 1, s.logProbs().length);
        double sum = 0;
        boolean greedy = true;
        for (int i = contextIds.length - 1; i < s.logProbs().length; i++) {
            sum += s.logProbs()[i];
            greedy &= s.topIds()[i][0] == whole[i + 1];
        }
        LogLikelihood ll = model.logLikelihood(List.of(new LogLikelihoodRequest(context, continuation))).get(0);
        assertEquals(ll.logProb(), sum, 1e-4);
        assertEquals(ll.greedy(), greedy);
        for (int i = 0; i < s.logProbs().length; i++) {
            assertTrue(s.logProbs()[i] <= s.topLogProbs()[i][0] + 1e-6, "the top entry is the most likely");
            assertTrue(s.topLogProbs()[i][0] >= s.topLogProbs()[i][1] && s.topLogProbs()[i][1] >= s.topLogProbs()[i][2]);
        }
        // the shorter sequence, padded in the same batch, scores as its own prefix
        for (int i = 0; i < contextIds.length - 1; i++) {
            assertEquals(s.logProbs()[i], scored.get(1).logProbs()[i], 1e-4);
        }
        assertNotNull(scored.get(1));
    }
}
