package dev.mergeval.train.data;

import dev.mergeval.runtime.ChatMessage;
import java.util.List;

/**
 * One conversation of a chat-format dataset.
 *
 * @param where {@code file:line}, for error messages
 */
public record ChatRecord(String where, List<ChatMessage> messages) {

    public ChatRecord {
        messages = List.copyOf(messages);
    }
}
