package dev.mergeval.eval.scorers;

import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import java.util.List;
import java.util.Map;

/**
 * Multiple choice by log-likelihood, as lm-evaluation-harness's {@code multiple_choice} tasks:
 * each choice is scored as a continuation of the prompt;
 * <pre>
 *   acc      = [argmax_i  ll_i          == gold]
 *   acc_norm = [argmax_i  ll_i / len_i  == gold]
 * </pre>
 * where {@code ll_i} is the total log-probability of choice i and {@code len_i} the length of its
 * text in characters (without the leading space that separates it from the prompt). Ties go to the
 * first choice, as {@code numpy.argmax} does.
 */
public final class MultipleChoiceScorer {

    public static final String ACC = "acc";
    public static final String ACC_NORM = "acc_norm";

    public List<String> metrics() {
        return List.of(ACC, ACC_NORM);
    }

    /** The requests to score: one per choice, in order, each continuing {@code context}. */
    public List<LogLikelihoodRequest> requests(String context, EvalExample example) {
        return example.choices().stream().map(c -> new LogLikelihoodRequest(context, c)).toList();
    }

    /** Scores one item from the log-likelihoods of its choices (in choice order). */
    public Map<String, Boolean> score(EvalExample example, List<LogLikelihood> lls) {
        List<String> choices = example.choices();
        if (lls.size() != choices.size()) {
            throw new IllegalArgumentException(example.id() + ": " + lls.size() + " log-likelihoods for "
                    + choices.size() + " choices");
        }
        int best = 0;
        int bestNorm = 0;
        double bestNormValue = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < choices.size(); i++) {
            double ll = lls.get(i).logProb();
            if (ll > lls.get(best).logProb()) {
                best = i;
            }
            double norm = ll / Math.max(1, choiceLength(choices.get(i)));
            if (norm > bestNormValue) {
                bestNormValue = norm;
                bestNorm = i;
            }
        }
        int gold = example.goldIndex();
        return Map.of(ACC, best == gold, ACC_NORM, bestNorm == gold);
    }

    static int choiceLength(String continuation) {
        return continuation.startsWith(" ") ? continuation.length() - 1 : continuation.length();
    }
}
