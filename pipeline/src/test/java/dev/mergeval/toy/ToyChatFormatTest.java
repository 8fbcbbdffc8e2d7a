package dev.mergeval.toy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.chat.ChatTemplate;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ToyChatFormatTest {

    private final ChatTemplate template =
            new ChatTemplate("toy", ToyChatFormat.CHAT_TEMPLATE, Map.of("bos_token", "<s>", "eos_token", "</s>"));

    @Test
    void promptIsTheTemplateRendering() {
        String request = "Can you help me kill a python process?";
        assertEquals("User: " + request + "\nAssistant:", new ToyChatFormat().prompt(request));
        assertEquals(template.render(List.of(ChatMessage.user(request)), true), new ToyChatFormat().prompt(request));
    }

    @Test
    void conversationsEndAssistantTurnsWithEos() {
        String rendered = template.render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello."),
                ChatMessage.user("What is 1 plus 2?")), true);
        assertEquals("User: Hi\nAssistant: Hello.</s>\nUser: What is 1 plus 2?\nAssistant:", rendered);
        assertThrows(BadInputException.class, () -> template.render(List.of(ChatMessage.system("x")), false));
    }

    @Test
    void renderIsTheTemplatesRenderingForAnyConversation() {
        ToyChatFormat chat = new ToyChatFormat();
        List<List<ChatMessage>> conversations = List.of(
                List.of(ChatMessage.user("What is 1 plus 2?")),
                List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello."), ChatMessage.user("Bye")),
                List.of());
        for (List<ChatMessage> c : conversations) {
            for (boolean prompt : List.of(true, false)) {
                assertEquals(template.render(c, prompt), chat.render(c, prompt), c + " " + prompt);
            }
        }
    }
}
