package dev.mergeval.eval.judges;

import java.util.List;

/** Judges a batch of completions; the i-th verdict belongs to the i-th input. */
public interface Judge {

    /** The name written into records and metrics. */
    String name();

    /** True when the judge reports harmfulness (model judges), so ASR is defined. */
    boolean judgesHarm();

    List<Verdict> judge(List<JudgeInput> inputs);
}
