package dev.mergeval.eval.scorers;

import dev.mergeval.eval.datasets.EvalExample;
import java.util.List;
import java.util.Map;

/** Scores a generated completion against an item's gold answer. */
public interface GenerationScorer {

    /** The metric names, in the order they are reported. */
    List<String> metrics();

    /** For each metric, whether the completion is correct. */
    Map<String, Boolean> score(EvalExample example, String completion);
}
