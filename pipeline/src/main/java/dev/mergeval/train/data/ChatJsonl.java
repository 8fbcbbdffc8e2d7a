package dev.mergeval.train.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.eval.datasets.DatasetFiles;
import dev.mergeval.runtime.ChatMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;

/**
 * Reads chat-format JSONL, the shape of Hugging Face chat datasets: one object per line with
 * {@code messages}, a list of {@code {"role": "system" | "user" | "assistant", "content": TEXT}};
 * other keys are ignored, blank lines skipped. Every record must hold an assistant turn (what is
 * trained on), and a file must hold a record. Any Hadoop path.
 */
public final class ChatJsonl {

    private static final Set<String> ROLES = Set.of("system", "user", "assistant");

    private ChatJsonl() {
    }

    /** The file's records, in order; anything malformed is a {@link BadInputException} naming {@code file:line}. */
    public static List<ChatRecord> read(String location, Configuration conf) {
        ObjectMapper json = Mappers.JSON;
        List<ChatRecord> out = new ArrayList<>();
        // strict UTF-8 (bytes that are not are named by line), a byte-order mark dropped
        try (BufferedReader in = DatasetFiles.open(location, conf)) {
            int lineNo = 0;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lineNo++;
                if (!line.isBlank()) {
                    out.add(parse(json, line, location + ":" + lineNo));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + location, e);
        }
        if (out.isEmpty()) {
            throw new BadInputException(location + ": no records (expected one {\"messages\": [...]} object per line)");
        }
        return out;
    }

    private static ChatRecord parse(ObjectMapper json, String line, String where) {
        JsonNode row;
        try {
            row = json.readTree(line);
        } catch (JsonProcessingException e) {
            throw new BadInputException(where + ": not valid JSON", e);
        }
        JsonNode messages = row.path("messages");
        if (!messages.isArray() || messages.isEmpty()) {
            throw new BadInputException(where + ": expected an object with a non-empty 'messages' list");
        }
        List<ChatMessage> out = new ArrayList<>();
        boolean assistant = false;
        for (JsonNode m : messages) {
            String role = m.path("role").asText(null);
            if (!m.path("role").isTextual() || !ROLES.contains(role)) {
                throw new BadInputException(where + ": message " + out.size() + " has role " + m.get("role")
                        + ", expected \"system\", \"user\" or \"assistant\"");
            }
            if (!m.path("content").isTextual()) {
                throw new BadInputException(where + ": message " + out.size() + " has no text 'content'");
            }
            assistant |= role.equals("assistant");
            out.add(new ChatMessage(role, m.get("content").asText()));
        }
        if (!assistant) {
            throw new BadInputException(where + ": no assistant turn to train on");
        }
        return new ChatRecord(where, out);
    }
}
