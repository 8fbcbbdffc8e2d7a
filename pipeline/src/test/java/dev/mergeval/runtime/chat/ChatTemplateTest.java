package dev.mergeval.runtime.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ChatMessage;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Renders the public Llama-3, Qwen2/ChatML, Mistral and Gemma templates to their known strings. */
class ChatTemplateTest {

    private static JsonNode cases() throws Exception {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat/known-renderings.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    @TestFactory
    Stream<DynamicTest> knownRenderings() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases()) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                ChatTemplate template =
                        ChatTemplate.fromTokenizerConfig(c.get("tokenizer_config"), "tokenizer_config.json");
                assertNotNull(template);
                List<ChatMessage> messages = new ArrayList<>();
                c.get("messages").forEach(m -> messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
                boolean gen = c.get("add_generation_prompt").asBoolean();
                if (c.has("expected_error")) {
                    BadInputException e = assertThrows(BadInputException.class, () -> template.render(messages, gen));
                    assertTrue(e.getMessage().contains(c.get("expected_error").asText()), e.getMessage());
                } else {
                    assertEquals(c.get("expected").asText(), template.render(messages, gen));
                }
            }));
        }
        return tests.stream();
    }

    @Test
    void configWithoutTemplateHasNone() throws Exception {
        assertNull(ChatTemplate.fromTokenizerConfig(new ObjectMapper().readTree("{\"bos_token\": \"<s>\"}"), "t"));
    }

    @Test
    void namedTemplateListPicksDefault() throws Exception {
        JsonNode config = new ObjectMapper().readTree(
                "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                        + " {\"name\": \"default\", \"template\": \"{{ messages[0].content }}!\"}]}");
        assertEquals("hi!", ChatTemplate.fromTokenizerConfig(config, "t").render(List.of(ChatMessage.user("hi")), true));
    }

    @Test
    void messageTextIsNeverRenderedAsTemplateCode() throws Exception {
        JsonNode config = new ObjectMapper().readTree(
                "{\"chat_template\": \"{% for m in messages %}[{{ m.content }}]{% endfor %}\"}");
        String text = "say {{ 7 * 7 }} and {% raw %}x{% endraw %}";
        assertEquals("[" + text + "]", ChatTemplate.fromTokenizerConfig(config, "t").render(List.of(ChatMessage.user(text)), false));
    }

    /** Renderings of Python's jinja2 under HF's environment (trim_blocks, lstrip_blocks, loopcontrols). */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        // A comment alone on its line leaves no blank line: lstrip_blocks and trim_blocks apply to it as to a tag.
        "A\\n  {# a note #}\\nB                      | A\\nB",
        "A\\n{# c #}\\nB                              | A\\nB",
        "A\\n\t {# two\\n lines #}\\n\\nB             | A\\n\\nB",
        "A\\n{#- c #}\\nB                             | AB",
        "{{ '{#' }}\\n  {# c #}\\nB                   | {#\\nB",
        "A\\n  {{ 'x' }}\\nB                          | A\\n  x\\nB",
        "{% for m in messages %}{% if loop.first %}{% continue %}{% endif %}{{ m.role }}{% endfor %} | assistant",
        "{% for m in messages %}{{ m.role }}{% break %}{% endfor %} | user",
    })
    void whitespaceAndLoopControlsAsJinja2(String template, String expected) {
        assertEquals(unescape(expected), render(unescape(template)));
    }

    /**
     * What Jinjava lacks fails as in jinja2 (Jinjava alone renders an unknown filter or test as
     * empty), with the template's source named once, on one line.
     */
    @ParameterizedTest
    @CsvSource(delimiterString = "=>", quoteCharacter = '"', value = {
        "[{{ messages[0].content | nosuchfilter }}]           => No filter named 'nosuchfilter'.",
        "{% for k, v in {'a': 1} | items %}{{ k }}{% endfor %} => No filter named 'items'.",
        "{{ messages | map('nosuchfilter') | list }}           => No filter named 'nosuchfilter'.",
        "{% if messages[0] is nosuchtest %}x{% endif %}        => No test named 'nosuchtest'.",
        "{{ messages | selectattr('role', 'nosuchtest') | list }} => No test named 'nosuchtest'.",
        "\\n{{ nosuchfunction('x') }}                        => line 2: Could not resolve function 'nosuchfunction'",
        "{% nosuchtag %}                                       => line 1: Syntax error in '{% nosuchtag %}': Unknown tag: nosuchtag",
    })
    void whatJinjavaLacksFailsTheRendering(String template, String message) {
        BadInputException e = assertThrows(BadInputException.class, () -> render(unescape(template)));
        assertEquals("t: chat template: " + message, e.getMessage());
    }

    /** HF's tojson is json.dumps(x, ensure_ascii=False, ...); the expected strings are Python's. */
    @Test
    void tojsonAsPythonJsonDumps() {
        String x = "{% set x = {'role': messages[0].role, 'n': [1, 2.0, none, true]} %}";
        assertEquals("{\"role\": \"user\", \"n\": [1, 2.0, null, true]}", render(x + "{{ x | tojson }}"));
        assertEquals("{\n  \"role\": \"user\",\n  \"n\": [\n    1,\n    2.0,\n    null,\n    true\n  ]\n}",
                render(x + "{{ x | tojson(indent=2) }}"));
        assertEquals("{\"n\":[1,2.0,null,true],\"role\":\"user\"}",
                render(x + "{{ x | tojson(separators=(',', ':'), sort_keys=true) }}"));
        assertEquals("[\n 0.5,\n 1e+16,\n 1000000000000000.0,\n 0.0001,\n 1e-05,\n 3.5,\n {},\n []\n]",
                render("{{ [0.5, 1e16, 1e15, 0.0001, 0.00001, 7 / 2, {}, []] | tojson(indent=1) }}"));
        String text = "q\"\\\n\r\t\b\f\u0001\u00e9\uD83D\uDE00\u007f";
        assertEquals("\"q\\\"\\\\\\n\\r\\t\\b\\f\\u0001\u00e9\uD83D\uDE00\u007f\"",
                render("{{ messages[0].content | tojson }}", text));
        assertEquals("\"\\u00e9\\ud83d\\ude00\\u007f\"",
                render("{{ messages[0].content | tojson(ensure_ascii=true) }}", "\u00e9\uD83D\uDE00\u007f"));
    }

    private static String render(String template) {
        return render(template, "hi");
    }

    private static String render(String template, String userText) {
        return new ChatTemplate("t", template, Map.of()).render(
                List.of(ChatMessage.user(userText), ChatMessage.assistant("ok")), false);
    }

    /** CSV values spell a newline as a backslash and n. */
    private static String unescape(String s) {
        return s.replace("\\n", "\n");
    }
}
