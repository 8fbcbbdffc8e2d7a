package dev.mergeval.runtime.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ChatMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face chat template ({@code chat_template} of {@code tokenizer_config.json}) rendered
 * with Jinjava under Hugging Face's conventions ({@code apply_chat_template}): Jinja's
 * {@code trim_blocks} and {@code lstrip_blocks} (comments included since Jinjava 2.7.4), {@code break}
 * and {@code continue}, the variables {@code messages} (list of
 * {@code {role, content}}), {@code add_generation_prompt}, {@code bos_token}, {@code eos_token}
 * and the tokenizer config's other special tokens, and a {@code raise_exception(message)} function
 * that fails the rendering (e.g. a system prompt given to a template that refuses one).
 */
public final class ChatTemplate {

    private static final Jinjava JINJAVA = newEngine();

    private final String template;
    private final Map<String, Object> specialTokens;

    public ChatTemplate(String template, Map<String, String> specialTokens) {
        this.template = template;
        this.specialTokens = new HashMap<>(specialTokens);
    }

    /**
     * The template of a parsed {@code tokenizer_config.json}, or null when it has none. A list of
     * named templates (newer configs) yields the one named {@code default}.
     */
    public static ChatTemplate fromTokenizerConfig(JsonNode config) {
        JsonNode t = config.path("chat_template");
        String text = null;
        if (t.isTextual()) {
            text = t.asText();
        } else if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) {
                    text = named.path("template").asText();
                }
            }
        }
        if (text == null || text.isEmpty()) {
            return null;
        }
        Map<String, String> tokens = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = config.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().endsWith("_token")) {
                JsonNode v = e.getValue();
                String token = v.isObject() ? v.path("content").asText(null) : v.isTextual() ? v.asText() : null;
                if (token != null) {
                    tokens.put(e.getKey(), token);
                }
            }
        }
        return new ChatTemplate(text, tokens);
    }

    public String template() {
        return template;
    }

    /** Renders a conversation; a template error or {@code raise_exception} is a {@link BadInputException}. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("role", m.role());
            entry.put("content", m.content());
            msgs.add(entry);
        }
        Map<String, Object> bindings = new HashMap<>(specialTokens);
        bindings.putIfAbsent("bos_token", "");
        bindings.putIfAbsent("eos_token", "");
        bindings.put("messages", msgs);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = JINJAVA.renderForResult(template, bindings);
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new BadInputException("chat template: " + rootMessage(error));
            }
        }
        return result.getOutput();
    }

    /** Called by templates as {@code raise_exception('...')}. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message);
    }

    private static String rootMessage(TemplateError error) {
        for (Throwable c = error.getException(); c != null; c = c.getCause()) {
            if (c instanceof TemplateRaisedException raised) {
                return raised.getMessage();
            }
        }
        return error.getMessage();
    }

    /** The exception {@code raise_exception} throws through Jinjava. */
    static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super(message);
        }
    }

    private static Jinjava newEngine() {
        LegacyOverrides python = LegacyOverrides.newBuilder()
                .withUseNaturalOperatorPrecedence(true)
                .withParseWhitespaceControlStrictly(true)
                .withUseTrimmingForNotesAndExpressions(true)
                .withKeepNullableLoopValues(true)
                .build();
        JinjavaConfig config = JinjavaConfig.newBuilder()
                // Message text is data: without this Jinjava renders "{{ ... }}" inside a user's
                // message as template code (an injection, and a changed prompt).
                .withNestedInterpretationEnabled(false)
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(python)
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return jinjava;
    }
}
