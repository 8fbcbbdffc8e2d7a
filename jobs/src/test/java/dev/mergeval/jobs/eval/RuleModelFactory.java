package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.source.ModelSource;
import java.util.List;

/**
 * TEST DOUBLE, not a model: a factory of deterministic rule-based {@link LanguageModel}s for
 * checking the Spark job's plumbing (fan-out, caching, ordering, aggregation) against a local run.
 * The "model" refuses prompts with an even character count and otherwise answers "#### 42"; it is
 * counted so tests can check one load per JVM.
 */
public final class RuleModelFactory implements ModelFactory {
    private static final long serialVersionUID = 1L;

    static final java.util.concurrent.atomic.AtomicInteger LOADS = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public LanguageModel load(ModelSource source, String device) {
        LOADS.incrementAndGet();
        return new LanguageModel() {
            @Override
            public String id() {
                return source.text();
            }

            @Override
            public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
                StringBuilder b = new StringBuilder();
                messages.forEach(m -> b.append("[").append(m.role()).append("] ").append(m.content()).append('\n'));
                return b.append(addGenerationPrompt ? "[assistant] " : "").toString();
            }

            @Override
            public List<Completion> generate(List<String> prompts, GenerationParams params) {
                return prompts.stream().map(p -> new Completion(
                        p.length() % 2 == 0 ? "I'm sorry, I cannot." : "Sure. #### 42",
                        List.of(1, 2, 3), List.of(4, 5), "eos", 1000L)).toList();
            }

            @Override
            public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
                return requests.stream().map(r -> new LogLikelihood(-r.continuation().length(), 1,
                        r.continuation().length(), false)).toList();
            }

            @Override
            public void close() {
            }
        };
    }
}
