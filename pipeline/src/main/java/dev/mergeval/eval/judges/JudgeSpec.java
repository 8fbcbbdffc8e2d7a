package dev.mergeval.eval.judges;

import dev.mergeval.common.BadInputException;

/**
 * A judge named on the command line or in a suite: {@code keyword} (the GCG list),
 * {@code keyword-extended} (the 29-string list), {@code refusal} (Mergeval's detector), or a model
 * judge {@code llamaguard3:SOURCE} / {@code wildguard:SOURCE} where SOURCE is the judge model's
 * path as the runtime loads it.
 *
 * <p>The model is kept as written, so that parsing a suite reads no model or merge config (each
 * executor re-reads the suite); the driver parses it into a {@code dev.mergeval.source.ModelSource}
 * and ships that to the executors with the evaluation.
 *
 * @param kind        the judge name
 * @param modelSource the judge model's source text for model judges, {@code null} otherwise
 */
public record JudgeSpec(String kind, String modelSource) {

    public static JudgeSpec parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new BadInputException("judge is required: keyword, keyword-extended, refusal, "
                    + "llamaguard3:MODEL or wildguard:MODEL");
        }
        int colon = spec.indexOf(':');
        String kind = colon < 0 ? spec : spec.substring(0, colon);
        String source = colon < 0 ? null : spec.substring(colon + 1);
        switch (kind) {
            case "keyword", "keyword-extended", RefusalDetector.NAME -> {
                if (source != null) {
                    throw new BadInputException("judge '" + kind + "' takes no model, got '" + spec + "'");
                }
            }
            case LlamaGuard3Judge.NAME, WildGuardJudge.NAME -> {
                if (source == null || source.isBlank()) {
                    throw new BadInputException("judge '" + kind + "' needs a model: " + kind + ":MODEL_SOURCE");
                }
            }
            default -> throw new BadInputException("unknown judge '" + kind + "'; known: keyword, keyword-extended, "
                    + "refusal, llamaguard3:MODEL, wildguard:MODEL");
        }
        return new JudgeSpec(kind, source);
    }

    public boolean needsModel() {
        return modelSource != null;
    }

    /** A rule judge; model judges are built with {@link #modelJudge}. */
    public Judge ruleJudge() {
        return switch (kind) {
            case "keyword" -> KeywordRefusalJudge.gcg();
            case "keyword-extended" -> KeywordRefusalJudge.extended();
            case RefusalDetector.NAME -> new RefusalDetector();
            default -> throw new IllegalStateException(kind + " is a model judge");
        };
    }

    /** A model judge on an already loaded judge model. */
    public ModelJudge modelJudge(dev.mergeval.runtime.LanguageModel model) {
        return switch (kind) {
            case LlamaGuard3Judge.NAME -> new LlamaGuard3Judge(model);
            case WildGuardJudge.NAME -> new WildGuardJudge(model);
            default -> throw new IllegalStateException(kind + " is not a model judge");
        };
    }

    @Override
    public String toString() {
        return modelSource == null ? kind : kind + ":" + modelSource;
    }
}
