package dev.mergeval.eval.judges;

import dev.mergeval.common.BadInputException;
import dev.mergeval.engine.EngineSpec;

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
 * <p>A model judge may run on an engine (a suite task's {@code judge_engine:} block, or the engine
 * options of {@code mergeval judge}): then {@code MODEL} is the served model name, as {@code --model}
 * is with {@code --engine openai}, unless the block names its own {@code model}.
 *
 * @param kind        the judge name
 * @param modelSource the judge model's source text for model judges, {@code null} otherwise
 * @param engine      where the judge model runs: an {@code openai} engine, or {@code null} for the
 *                    in-JVM runtime
 */
public record JudgeSpec(String kind, String modelSource, EngineSpec engine) {

    public JudgeSpec(String kind, String modelSource) {
        this(kind, modelSource, null);
    }

    /**
     * This judge on {@code engine} ({@code null} or {@code djl}: in the JVM).
     *
     * @param key names the block in messages ({@code tasks[0].judge_engine})
     */
    public JudgeSpec on(EngineSpec engine, String key) {
        if (engine == null || !engine.isOpenAi()) {
            return new JudgeSpec(kind, modelSource, null);
        }
        if (modelSource == null) {
            throw new BadInputException(key + ": judge '" + kind + "' runs no model, so it takes no engine");
        }
        if (engine.launch() != null) {
            throw new BadInputException(key + ".launch: a judge engine needs base_url (a running server)");
        }
        return new JudgeSpec(kind, modelSource, engine.model() == null ? engine.withModel(modelSource) : engine);
    }

    /** The engine of a judge on a server, with its served model name; {@code null} in the JVM. */
    public EngineSpec servedEngine() {
        return engine;
    }

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

    /** A model judge that loads its model where it runs (not one on a server): it reads {@link #modelSource}. */
    public boolean loadsModel() {
        return needsModel() && servedEngine() == null;
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
        return (modelSource == null ? kind : kind + ":" + modelSource)
                + (engine == null ? "" : " (openai engine " + engine.model() + " at " + engine.root() + ")");
    }
}
