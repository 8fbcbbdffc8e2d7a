package dev.mergeval.eval;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * TEST DOUBLE, not a model: a deterministic {@link LanguageModel} whose outputs are functions
 * supplied by the test, used to check evaluation logic (prompt rendering, parsing, scoring,
 * aggregation) against known answers. It records every prompt it was given.
 */
public final class ScriptedModel implements LanguageModel {

    private final String id;
    private final Function<String, String> generate;
    private final BiFunction<String, String, Double> logProb;
    public final List<String> prompts = new ArrayList<>();
    public int generateCalls;

    public ScriptedModel(String id, Function<String, String> generate, BiFunction<String, String, Double> logProb) {
        this.id = id;
        this.generate = generate;
        this.logProb = logProb;
    }

    public static ScriptedModel generating(Function<String, String> generate) {
        return new ScriptedModel("scripted", generate, (c, x) -> 0.0);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder b = new StringBuilder();
        for (ChatMessage m : messages) {
            b.append('<').append(m.role()).append('>').append(m.content()).append('\n');
        }
        return addGenerationPrompt ? b.append("<assistant>").toString() : b.toString();
    }

    @Override
    public List<Completion> generate(List<String> prompts, GenerationParams params) {
        generateCalls++;
        List<Completion> out = new ArrayList<>();
        for (String p : prompts) {
            this.prompts.add(p);
            String text = generate.apply(p);
            // One "token" per character keeps token counts checkable.
            List<Integer> promptIds = p.chars().boxed().toList();
            List<Integer> outIds = text.chars().boxed().toList();
            out.add(new Completion(text, promptIds, outIds, "eos", 1_000_000L));
        }
        return out;
    }

    @Override
    public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
        return requests.stream()
                .map(r -> new LogLikelihood(logProb.apply(r.context(), r.continuation()),
                        r.continuation().length(), r.continuation().length(), false))
                .toList();
    }

    @Override
    public void close() {
    }
}
