package dev.mergeval.toy;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.chat.ChatTemplate;
import java.util.List;
import java.util.Map;

/**
 * The toy models' chat format, {@code <s>User: {request}\nAssistant: {response}</s>}, as the
 * Hugging Face {@code chat_template} shipped in their {@code tokenizer_config.json}. BOS comes from
 * the tokenizer ({@code add_bos_token}), not the template; a system message is an error.
 */
final class ToyChatFormat {

    /** Jinja source; newlines outside tags survive {@code trim_blocks}, which only eats one after a block tag. */
    public static final String CHAT_TEMPLATE = "{% for message in messages %}"
            + "{% if message['role'] == 'user' %}User: {{ message['content'] }}\n"
            + "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n"
            + "{% else %}{{ raise_exception('the toy chat format has only user and assistant turns') }}"
            + "{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}Assistant:{% endif %}";

    private static final String SLOT = "\u0000";

    private final ChatTemplate template;
    private final String before;
    private final String after;

    /**
     * Renders the template once around a placeholder (Jinjava costs milliseconds per render, and
     * thousands of prompts are formatted); the template inserts the content verbatim.
     */
    public ToyChatFormat() {
        this.template = new ChatTemplate(
                "ToyChatFormat.CHAT_TEMPLATE", CHAT_TEMPLATE, Map.of("bos_token", "<s>", "eos_token", "</s>"));
        String rendered = template.render(List.of(ChatMessage.user(SLOT)), true);
        int at = rendered.indexOf(SLOT);
        this.before = rendered.substring(0, at);
        this.after = rendered.substring(at + SLOT.length());
    }

    /** The prompt the model continues: the user turn and the generation prompt. */
    public String prompt(String request) {
        return before + request + after;
    }

    /** The template's rendering of {@code messages}; a single request's prompt skips Jinjava. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (addGenerationPrompt && messages.size() == 1 && messages.get(0).role().equals("user")) {
            return prompt(messages.get(0).content());
        }
        return template.render(messages, addGenerationPrompt);
    }
}
