package dev.mergeval.eval;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.DatasetSpec;
import dev.mergeval.eval.judges.JudgeSpec;
import dev.mergeval.runtime.GenerationParams;

/**
 * One task of a suite: a dataset, and either a judge (safety tasks) or a scorer (skill tasks).
 *
 * @param name         unique within the suite; the {@code task} of records and metrics
 * @param dataset      what to load
 * @param judge        a {@link JudgeSpec} string, or {@code null}
 * @param scorer       {@code gsm8k}, {@code exact_match} or {@code multiple_choice}, or {@code null}
 * @param chatTemplate wrap the prompt in the model's chat template
 * @param systemPrompt an optional system message (in the template; else a prefix line)
 * @param generation   decoding parameters
 * @param limit        at most this many items, sampled by seed ({@code -1}: all)
 */
public record EvalTask(String name, DatasetSpec dataset, JudgeSpec judge, String scorer, boolean chatTemplate,
                       String systemPrompt, GenerationParams generation, int limit) {

    public static final String GSM8K = "gsm8k";
    public static final String EXACT_MATCH = "exact_match";
    public static final String MULTIPLE_CHOICE = "multiple_choice";

    public EvalTask {
        if (name == null || name.isBlank()) {
            throw new BadInputException("task name is required");
        }
        if ((judge == null) == (scorer == null)) {
            throw new BadInputException("task '" + name + "': give exactly one of judge or scorer");
        }
        boolean mc = dataset.kind().multipleChoice();
        if (mc != MULTIPLE_CHOICE.equals(scorer)) {
            throw new BadInputException("task '" + name + "': dataset kind " + dataset.kind().id()
                    + (mc ? " needs scorer multiple_choice" : " cannot use scorer multiple_choice"));
        }
        if (scorer != null && !java.util.List.of(GSM8K, EXACT_MATCH, MULTIPLE_CHOICE).contains(scorer)) {
            throw new BadInputException("task '" + name + "': unknown scorer '" + scorer
                    + "'; known: gsm8k, exact_match, multiple_choice");
        }
        if (GSM8K.equals(scorer) && dataset.kind() != dev.mergeval.eval.datasets.DatasetKind.GSM8K) {
            throw new BadInputException("task '" + name + "': scorer gsm8k needs dataset kind gsm8k");
        }
    }

    /** True when the model generates text (judge and generation-scored tasks). */
    public boolean generates() {
        return !MULTIPLE_CHOICE.equals(scorer);
    }
}
