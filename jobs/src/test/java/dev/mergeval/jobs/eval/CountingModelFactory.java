package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.source.ModelSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * TEST DOUBLE: {@link RuleModelFactory}'s models, counted while open (loaded and not closed), with
 * the peak, in this JVM. Each generate call sleeps a little so tasks on a local[2] master overlap.
 * Using a closed model fails the task; closing one twice is counted in {@link #DOUBLE_CLOSES}.
 */
final class CountingModelFactory implements ModelFactory {
    private static final long serialVersionUID = 1L;

    static final AtomicInteger OPEN = new AtomicInteger();
    static final AtomicInteger PEAK = new AtomicInteger();
    static final AtomicInteger LOADS = new AtomicInteger();
    static final AtomicInteger DOUBLE_CLOSES = new AtomicInteger();

    static void reset() {
        OPEN.set(0);
        PEAK.set(0);
        LOADS.set(0);
        DOUBLE_CLOSES.set(0);
    }

    @Override
    public LanguageModel load(ModelSource source, String device) {
        LanguageModel rule = new RuleModelFactory().load(source, device);
        LOADS.incrementAndGet();
        PEAK.accumulateAndGet(OPEN.incrementAndGet(), Math::max);
        return new LanguageModel() {
            private volatile boolean closed;

            private void check() {
                if (closed) {
                    throw new IllegalStateException(source + " used after close");
                }
            }

            @Override
            public String id() {
                return rule.id();
            }

            @Override
            public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
                check();
                return rule.renderChat(messages, addGenerationPrompt);
            }

            @Override
            public List<Completion> generate(List<String> prompts, GenerationParams params) {
                check();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                List<Completion> out = rule.generate(prompts, params);
                check();
                return out;
            }

            @Override
            public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
                check();
                return rule.logLikelihood(requests);
            }

            @Override
            public synchronized void close() {
                if (closed) {
                    DOUBLE_CLOSES.incrementAndGet();
                    return;
                }
                closed = true;
                OPEN.decrementAndGet();
            }
        };
    }
}
