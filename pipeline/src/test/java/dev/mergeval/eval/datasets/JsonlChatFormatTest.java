package dev.mergeval.eval.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chat-format JSONL ({@code messages}) read by the generic loader. */
class JsonlChatFormatTest {

    @TempDir
    Path dir;

    @Test
    void firstUserTurnIsThePromptAndTheFollowingAssistantTurnTheAnswer() throws IOException {
        Path f = dir.resolve("chat.jsonl");
        Files.writeString(f, String.join("\n",
                "{\"messages\":[{\"role\":\"system\",\"content\":\"Be kind.\"},{\"role\":\"user\",\"content\":\"Hi?\"},"
                        + "{\"role\":\"assistant\",\"content\":\"Hello.\"}],\"kind\":\"benign\"}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Only a question\"}],\"category\":\"c\",\"kind\":\"k\"}",
                ""));
        Dataset d = JsonlPromptLoader.load(f.toString());
        assertEquals(2, d.examples().size());
        EvalExample a = d.examples().get(0);
        assertEquals("Hi?", a.prompt());
        assertEquals("Hello.", a.answer());
        assertEquals("benign", a.category());
        EvalExample b = d.examples().get(1);
        assertNull(b.answer());
        assertEquals("c", b.category(), "an explicit category wins over kind");
    }

    @Test
    void aConversationWithoutAUserTurnIsRejectedWithItsLine() throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"prompt\":\"fine\"}\n{\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}]}\n");
        BadInputException e = assertThrows(BadInputException.class, () -> JsonlPromptLoader.load(f.toString()));
        assertTrue(e.getMessage().contains("bad.jsonl:2"), e.getMessage());
    }
}
