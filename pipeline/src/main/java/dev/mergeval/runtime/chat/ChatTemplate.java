package dev.mergeval.runtime.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.JinjavaInterpreterFactory;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
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
 * that fails the rendering (e.g. a system prompt given to a template that refuses one), and HF's
 * {@code tojson} ({@link ToJsonFilter}). A filter or
 * test Jinjava lacks fails the rendering as in jinja2, and so does any other error Jinjava counts as
 * fatal (unknown function or tag, syntax error); its warnings do not.
 */
public final class ChatTemplate {

    private static final Jinjava JINJAVA = newEngine();

    private final String source;
    private final String template;
    private final Map<String, Object> specialTokens;

    /** {@code source} names where the template comes from (a file) in error messages. */
    public ChatTemplate(String source, String template, Map<String, String> specialTokens) {
        this.source = source;
        this.template = template;
        this.specialTokens = new HashMap<>(specialTokens);
    }

    /**
     * The template of a parsed {@code tokenizer_config.json}, or null when it has none. A list of
     * named templates (newer configs) yields the one named {@code default}. {@code source} names the
     * file in error messages.
     */
    public static ChatTemplate fromTokenizerConfig(JsonNode config, String source) {
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
        return new ChatTemplate(source, text, tokens);
    }

    public String template() {
        return template;
    }

    /**
     * Renders a conversation; a fatal template error or {@code raise_exception} is a
     * {@link BadInputException} naming the source.
     */
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
                throw new BadInputException(source + ": chat template: " + rootMessage(error));
            }
        }
        return result.getOutput();
    }

    /** Called by templates as {@code raise_exception('...')}. */
    public static String raiseException(String message) {
        throw new TemplateFailure(message);
    }

    /** Our own failure's message as it was thrown; else Jinjava's first line, with the template line. */
    private static String rootMessage(TemplateError error) {
        for (Throwable c = error.getException(); c != null; c = c.getCause()) {
            if (c instanceof TemplateFailure failure) {
                return failure.getMessage();
            }
        }
        String message = error.getMessage().lines().findFirst().orElse("");
        return error.getLineno() > 0 ? "line " + error.getLineno() + ": " + message : message;
    }

    /**
     * A failure the template causes, thrown through Jinjava (which records it as a fatal error) and
     * reported with its own message.
     */
    static final class TemplateFailure extends RuntimeException {
        TemplateFailure(String message) {
            super(message);
        }
    }

    /**
     * The scope of a rendering. Jinjava renders a filter or test it lacks as empty (no error at
     * all, so a misspelt or unsupported filter would silently change the prompt); jinja2 fails.
     */
    private static final class StrictContext extends Context {
        StrictContext(Context parent) {
            super(parent);
        }

        @Override
        public Filter getFilter(String name) {
            Filter filter = super.getFilter(name);
            if (filter == null) {
                throw new TemplateFailure("No filter named '" + name + "'.");
            }
            return filter;
        }

        @Override
        public ExpTest getExpTest(String name) {
            ExpTest test = super.getExpTest(name);
            if (test == null) {
                throw new TemplateFailure("No test named '" + name + "'.");
            }
            return test;
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
                // Each rendering gets its scope through this factory, so every scope descends from a StrictContext.
                .withInterperterFactory(new JinjavaInterpreterFactory() {
                    @Override
                    public JinjavaInterpreter newInstance(Jinjava jinjava, Context context, JinjavaConfig config) {
                        return super.newInstance(jinjava, new StrictContext(context), config);
                    }
                })
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFilter(new ToJsonFilter());
        return jinjava;
    }
}
