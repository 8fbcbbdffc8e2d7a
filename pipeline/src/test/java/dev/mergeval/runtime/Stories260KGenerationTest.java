package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.llama.LlamaForward;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** End-to-end generation and scoring on the real stories260K model. */
class Stories260KGenerationTest {

    private static Path dir;
    private static DjlLanguageModel model;

    @BeforeAll
    static void load() {
        dir = TestModels.stories260K();
        model = LanguageModels.loadDirectory(dir.toString(), new Configuration(), RuntimeOptions.cpu().withThreads(1));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void greedyReproducesRunCReference() throws Exception {
        String expected = Files.readString(dir.resolve("reference/greedy_once_upon_a_time_64steps.txt"));
        expected = expected.substring(0, expected.length() - 1); // run.c ends with a newline of its own
        String prompt = "Once upon a time";
        int[] ids = model.tokenizer().encode(prompt);
        assertEquals(1, ids[0], "BOS first");
        // run.c runs the forward pass at 64 positions (BOS and the prompt included) and prints
        // the token each position predicts: 64 - ids.length + 1 new tokens
        int newTokens = 64 - ids.length + 1;
        Completion c = model.generate(List.of(prompt), GenerationParams.greedy(newTokens)).get(0);
        assertEquals(expected, prompt + c.text());
        assertEquals(newTokens, c.outputIds().size());
        assertEquals("length", c.finishReason());
    }

    private static final List<String> PROMPTS = List.of(
            "Once upon a time", "Lily", "The dog was very happy because he found a big bone in the", "Tom and");

    @Test
    void samePromptSameOutputAloneOrInBatch() {
        GenerationParams greedy = GenerationParams.greedy(24);
        GenerationParams sampled = new GenerationParams(24, 0.9, 40, 0.9, 1.1, 1234L, List.of());
        for (GenerationParams params : List.of(greedy, sampled)) {
            List<Completion> batch = model.generate(PROMPTS, params);
            for (int i = 0; i < PROMPTS.size(); i++) {
                Completion alone = model.generate(List.of(PROMPTS.get(i)), params).get(0);
                assertEquals(alone.outputIds(), batch.get(i).outputIds(), "prompt " + i + " with " + params);
                assertEquals(alone.text(), batch.get(i).text());
            }
            // a different batch order and batch size 1..2 chunks give the same results too
            List<String> reversed = new ArrayList<>(PROMPTS);
            java.util.Collections.reverse(reversed);
            try (DjlLanguageModel small = LanguageModels.loadDirectory(
                    dir.toString(), new Configuration(), RuntimeOptions.cpu().withMaxBatchSize(2))) {
                List<Completion> other = small.generate(reversed, params);
                for (int i = 0; i < PROMPTS.size(); i++) {
                    assertEquals(batch.get(i).outputIds(), other.get(PROMPTS.size() - 1 - i).outputIds());
                }
            }
        }
    }

    @Test
    void seededSamplingIsReproducibleAndSeedDependent() {
        GenerationParams a = new GenerationParams(30, 1.0, 0, 0.95, 1.0, 7L, List.of());
        GenerationParams b = new GenerationParams(30, 1.0, 0, 0.95, 1.0, 8L, List.of());
        List<Completion> first = model.generate(PROMPTS, a);
        List<Completion> again = model.generate(PROMPTS, a);
        List<Completion> other = model.generate(PROMPTS, b);
        int differing = 0;
        for (int i = 0; i < PROMPTS.size(); i++) {
            assertEquals(first.get(i).outputIds(), again.get(i).outputIds());
            differing += first.get(i).outputIds().equals(other.get(i).outputIds()) ? 0 : 1;
        }
        assertTrue(differing > 0, "seed 7 and seed 8 sampled identical continuations for every prompt");
    }

    @Test
    void repetitionPenaltyChangesGreedyText() {
        Completion plain = model.generate(List.of("Once upon a time"), GenerationParams.greedy(60)).get(0);
        Completion penalised = model.generate(List.of("Once upon a time"),
                GenerationParams.greedy(60).withRepetitionPenalty(1.2)).get(0);
        assertNotEquals(plain.outputIds(), penalised.outputIds());
    }

    @Test
    void stopStringEndsTheSequenceAndIsCutFromText() {
        Completion c = model.generate(List.of("Once upon a time"),
                GenerationParams.greedy(60).withStopStrings(List.of("Lily"))).get(0);
        assertEquals("stop", c.finishReason());
        assertEquals(", there was a little girl named ", c.text());
    }

    @Test
    void aContinuationReadsAsItDoesAfterItsPrompt() {
        // "Once" continues with "▁upon": on its own that token decodes to "upon", after the
        // prompt to " upon" (as transformers' and vLLM's generated text read)
        Completion c = model.generate(List.of("Once"), GenerationParams.greedy(8)).get(0);
        int[] all = Stream.of(c.promptIds(), c.outputIds()).flatMap(List::stream)
                .mapToInt(Integer::intValue).toArray();
        assertEquals(model.tokenizer().decode(all), "Once" + c.text());
        assertTrue(c.text().startsWith(" "), c.text());
        assertFalse(model.tokenizer().decode(c.outputIds().stream().mapToInt(Integer::intValue).toArray())
                .startsWith(" "), "the same ids decoded alone lose the space");
    }

    @Test
    void eosStopsOneRowWhileOthersContinue() {
        List<int[]> prompts = List.of(model.tokenizer().encode("Once upon a time"), model.tokenizer().encode("Lily"));
        List<Completion> free = model.generateIds(prompts, new long[2], GenerationParams.greedy(20));
        int eos = free.get(0).outputIds().get(4);
        // a generator that treats row 0's fifth token as EOS
        dev.mergeval.runtime.generation.BatchGenerator gen = new dev.mergeval.runtime.generation.BatchGenerator(
                model.forward(), model.parameters(), java.util.Set.of(eos), model.tokenizer()::decodeAfter);
        try (NDManager m = NDManager.newBaseManager()) {
            List<Completion> out = gen.generate(m, prompts, new long[2], GenerationParams.greedy(20));
            assertEquals("eos", out.get(0).finishReason());
            assertEquals(free.get(0).outputIds().subList(0, 5), out.get(0).outputIds());
            // an EOS id the tokenizer does not call special still ends the text before it
            int[] said = free.get(0).outputIds().subList(0, 4).stream().mapToInt(Integer::intValue).toArray();
            assertEquals(model.tokenizer().decodeAfter(prompts.get(0), said), out.get(0).text());
            int firstEosInRow1 = free.get(1).outputIds().indexOf(eos);
            List<Integer> expected1 = firstEosInRow1 < 0 ? free.get(1).outputIds()
                    : free.get(1).outputIds().subList(0, firstEosInRow1 + 1);
            assertEquals(expected1, out.get(1).outputIds());
        }
    }

    @Test
    void nativeArraysDoNotAccumulateOverThousandsOfDecodeSteps() {
        int before = model.liveArrays();
        assertEquals(model.parameters().size(), before);
        GenerationParams params = new GenerationParams(260, 0.8, 0, 1.0, 1.0, 1L, List.of());
        int steps = 0;
        for (int round = 0; round < 2; round++) {
            for (Completion c : model.generate(PROMPTS, params)) {
                steps += c.outputIds().size();
            }
            model.logLikelihood(List.of(new LogLikelihoodRequest("Lily", " ran")));
            assertEquals(before, model.liveArrays(), "arrays left behind after round " + round);
        }
        assertTrue(steps >= 1000, "only " + steps + " tokens decoded");
    }

    @Test
    void logLikelihoodMatchesForwardAndFlagsGreedy() {
        String context = "Once upon a time";
        String greedyText = model.generate(List.of(context), GenerationParams.greedy(8)).get(0).text();
        List<LogLikelihoodRequest> requests = List.of(
                new LogLikelihoodRequest(context, greedyText),
                new LogLikelihoodRequest(context, " the cat jumped"),
                new LogLikelihoodRequest("Lily and Tom went to the park. ", "They played."),
                // the context's tokens are no prefix of the pair's: the harness still cuts at their count
                new LogLikelihoodRequest("Once upon a tim", "e there was"),
                // Python's rstrip() also strips a no-break space
                new LogLikelihoodRequest("Lily\u00a0", "ran"));
        List<LogLikelihood> batch = model.logLikelihood(requests);
        assertTrue(batch.get(0).greedy());
        assertFalse(batch.get(1).greedy());
        assertTrue(batch.get(0).logProb() > batch.get(1).logProb());
        assertEquals(" the cat jumped".length(), batch.get(1).charLength());
        for (int i = 0; i < requests.size(); i++) {
            LogLikelihood alone = model.logLikelihood(List.of(requests.get(i))).get(0);
            assertEquals(alone.logProb(), batch.get(i).logProb(), 1e-4);
            assertEquals(alone.tokenCount(), batch.get(i).tokenCount());
            // independent computation: full forward over context + continuation, summed in Java
            assertEquals(manualLogLikelihood(requests.get(i)), alone.logProb(), 1e-4);
        }
    }

    /** "▁the" and "▁they" are one token each: the context's count takes the whole pair. */
    @Test
    void aContextWhoseTokensCoverThePairIsRefusedNamingIt() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> model.logLikelihood(List.of(new LogLikelihoodRequest("Once upon a time the", "y"))));
        assertTrue(e.getMessage().startsWith("context 'Once upon a time the' encodes to ")
                && e.getMessage().endsWith("leaves none to score"), e.getMessage());
    }

    private static double manualLogLikelihood(LogLikelihoodRequest r) {
        String context = r.context().replaceFirst(
                "[\\t\\n\\x0B\\f\\r\\x1C-\\x1F \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]+$", "");
        String continuation = r.context().substring(context.length()) + r.continuation();
        int[] pair = model.tokenizer().encode(context + continuation);
        int[] own = model.tokenizer().encode(context);
        int contextLen = own.length;
        // lm-evaluation-harness: the context's own tokens, then the pair's after as many
        int[] whole = java.util.stream.IntStream.concat(java.util.Arrays.stream(own),
                java.util.Arrays.stream(pair, contextLen, pair.length)).toArray();
        LlamaForward forward = model.forward();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = forward.logits(model.parameters(), m.create(whole).reshape(1, whole.length));
            float[] flat = logits.toFloatArray();
            int v = forward.config().vocabSize();
            double sum = 0;
            for (int p = contextLen; p < whole.length; p++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, flat[(p - 1) * v + j]);
                }
                double z = 0;
                for (int j = 0; j < v; j++) {
                    z += Math.exp(flat[(p - 1) * v + j] - max);
                }
                sum += flat[(p - 1) * v + whole[p]] - max - Math.log(z);
            }
            return sum;
        }
    }
}
