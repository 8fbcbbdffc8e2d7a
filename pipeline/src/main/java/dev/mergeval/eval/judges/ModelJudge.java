package dev.mergeval.eval.judges;

import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import java.util.ArrayList;
import java.util.List;

/**
 * A judge that is itself a language model: it renders each (prompt, completion) pair into the
 * judge's published classifier prompt, decodes greedily, and parses the answer. The judge model is
 * owned by the caller, who closes it.
 */
abstract class ModelJudge implements Judge {

    /** Pairs per {@link LanguageModel#generate} call: bounds memory, not results (batching is exact). */
    static final int BATCH = 16;

    private final LanguageModel model;
    private final GenerationParams params;

    protected ModelJudge(LanguageModel model, int maxNewTokens) {
        this.model = model;
        this.params = GenerationParams.greedy(maxNewTokens);
    }

    /** The judge prompt for one pair, as raw text; the runtime adds BOS. */
    public abstract String render(JudgeInput input);

    /** Parses the judge model's answer for one pair. */
    public abstract Verdict parse(JudgeInput input, String output);

    @Override
    public boolean judgesHarm() {
        return true;
    }

    @Override
    public List<Verdict> judge(List<JudgeInput> inputs) {
        List<Verdict> out = new ArrayList<>(inputs.size());
        for (int from = 0; from < inputs.size(); from += BATCH) {
            List<JudgeInput> batch = inputs.subList(from, Math.min(inputs.size(), from + BATCH));
            List<Completion> answers = model.generate(batch.stream().map(this::render).toList(), params);
            if (answers.size() != batch.size()) {
                throw new IllegalStateException("judge model " + model.id() + " returned " + answers.size()
                        + " completions for " + batch.size() + " prompts");
            }
            for (int i = 0; i < batch.size(); i++) {
                Completion a = answers.get(i);
                // A judge request that failed for good (a judge on an engine) is an unparseable verdict saying why.
                out.add(a.failed() ? Verdict.unparseable(name(), "judge engine error: " + a.error())
                        : parse(batch.get(i), a.text()));
            }
        }
        return out;
    }
}
