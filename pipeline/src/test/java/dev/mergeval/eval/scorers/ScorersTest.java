package dev.mergeval.eval.scorers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.eval.SharedData;
import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.eval.datasets.Gsm8kLoader;
import dev.mergeval.runtime.LogLikelihood;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ScorersTest {

    private static EvalExample gsm(String answer) {
        return new EvalExample("g", "Question: q\nAnswer:", answer, null, List.of(), Map.of());
    }

    @Test
    void goldSolutionsScoreFullMarksOnTheRealTestSet() {
        Dataset d = Gsm8kLoader.load(SharedData.require("data/gsm8k/test.jsonl").toString());
        Gsm8kScorer s = new Gsm8kScorer();
        int strict = 0;
        int flexible = 0;
        for (EvalExample e : d.examples()) {
            Map<String, Boolean> r = s.score(e, " " + e.answer());
            strict += r.get(Gsm8kScorer.STRICT) ? 1 : 0;
            flexible += r.get(Gsm8kScorer.FLEXIBLE) ? 1 : 0;
        }
        assertEquals(1319, strict);
        assertEquals(1319, flexible);
        // A wrong final number fails both.
        EvalExample first = d.examples().get(0);
        Map<String, Boolean> wrong = s.score(first, first.answer().replace("#### 18", "#### 19"));
        assertFalse(wrong.get(Gsm8kScorer.STRICT));
        assertFalse(wrong.get(Gsm8kScorer.FLEXIBLE));
    }

    @Test
    void extractionFollowsTheHarnessRules() {
        assertEquals("1,000", Gsm8kScorer.extractStrict("so #### 1,000\n#### 7"), "first strict match");
        assertEquals(Gsm8kScorer.FALLBACK, Gsm8kScorer.extractStrict("The answer is 12."));
        assertEquals("$1,000.", Gsm8kScorer.extractFlexible("I had 3 apples, so The answer is $1,000."));
        assertEquals("7", Gsm8kScorer.extractFlexible("2 and then 7"), "single digits via the second group");
        assertEquals("-12", Gsm8kScorer.extractFlexible("it drops to -12"));
        assertEquals(Gsm8kScorer.FALLBACK, Gsm8kScorer.extractFlexible("no digits here"));
        assertEquals("1000", Gsm8kScorer.normalise("$1,000."));
        assertEquals("18", Gsm8kScorer.normalise("She makes 9 * 2 = $18.\n#### 18"));

        Gsm8kScorer s = new Gsm8kScorer();
        Map<String, Boolean> flexOnly = s.score(gsm("step\n#### 1000"), "So she pays $1,000.");
        assertFalse(flexOnly.get(Gsm8kScorer.STRICT));
        assertTrue(flexOnly.get(Gsm8kScorer.FLEXIBLE));
        Map<String, Boolean> lastWins = s.score(gsm("#### 5"), "#### 5\nQuestion: next one has 42");
        assertTrue(lastWins.get(Gsm8kScorer.STRICT));
        assertFalse(lastWins.get(Gsm8kScorer.FLEXIBLE), "flexible takes the last number, as the harness does");
    }

    @Test
    void exactMatchAndContains() {
        ExactMatchScorer s = new ExactMatchScorer();
        EvalExample e = new EvalExample("x", "Capital of France?", "Paris", null, List.of(), Map.of());
        assertEquals(Map.of("exact_match", true, "contains", true), s.score(e, "  Paris\n"));
        assertEquals(Map.of("exact_match", false, "contains", true), s.score(e, "It is paris."));
        assertEquals(Map.of("exact_match", false, "contains", false), s.score(e, "Lyon"));
    }

    @Test
    void multipleChoiceAccAndAccNormCanDisagree() {
        MultipleChoiceScorer s = new MultipleChoiceScorer();
        // Choice 1 has the highest total log-likelihood; choice 0 the highest per character.
        EvalExample e = new EvalExample("m", "Q?\nAnswer:", "0", null, List.of(" a long answer text", " b"), Map.of());
        assertEquals(2, s.requests(e.prompt(), e).size());
        assertEquals(" b", s.requests(e.prompt(), e).get(1).continuation());
        Map<String, Boolean> r = s.score(e, List.of(new LogLikelihood(-9.0, 4, 19, false),
                new LogLikelihood(-3.0, 1, 2, false)));
        assertFalse(r.get("acc"), "-3 > -9 picks choice 1");
        assertTrue(r.get("acc_norm"), "-9/18 = -0.5 > -3/1 picks choice 0");
        Map<String, Boolean> tie = s.score(e, List.of(new LogLikelihood(-2.0, 1, 1, false),
                new LogLikelihood(-2.0, 1, 1, false)));
        assertTrue(tie.get("acc"), "ties go to the first choice");
    }
}
