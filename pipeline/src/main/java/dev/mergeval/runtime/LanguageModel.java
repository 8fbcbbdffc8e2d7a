package dev.mergeval.runtime;

import java.util.List;

/**
 * A loaded causal language model: the one contract evaluation code uses. Implementations own
 * native memory and must be closed. Batched calls give, for each input, the same result as the
 * input alone.
 */
public interface LanguageModel extends AutoCloseable {

    /** A stable identifier of the model source (path, or merge spec id). */
    String id();

    /**
     * Renders a conversation with the model's chat template (or as a plain prompt where it has
     * none), ready for {@link #generate}.
     */
    String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt);

    /** Generates one continuation per prompt (prompts are raw text; BOS is added as configured). */
    List<Completion> generate(List<String> prompts, GenerationParams params);

    /**
     * Whether {@link #renderChat} gives the text the model itself would see for a conversation (a
     * model behind a chat API may not know its server's template).
     */
    default boolean rendersChat() {
        return true;
    }

    /**
     * Generates one reply per conversation. By default the conversation is rendered with
     * {@link #renderChat} and generated from as text; a model behind a chat API sends the messages.
     */
    default List<Completion> chat(List<List<ChatMessage>> conversations, GenerationParams params) {
        return generate(conversations.stream().map(c -> renderChat(c, true)).toList(), params);
    }

    /**
     * Log-likelihood of each request's continuation given its context.
     *
     * @throws ModelRequestException when a model behind an API could not answer a request
     */
    List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests);

    @Override
    void close();
}
