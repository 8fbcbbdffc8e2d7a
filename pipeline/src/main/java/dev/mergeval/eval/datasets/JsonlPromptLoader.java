package dev.mergeval.eval.datasets;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Generic JSON Lines: {@code prompt} (required), and optional {@code answer}, {@code id} and
 * {@code category}. Missing ids become {@code <file stem>-<row>}.
 *
 * <p>Chat-format lines, as fine-tuning sets are written ({@code {"messages": [{"role": "user",
 * "content": ...}, {"role": "assistant", "content": ...}]}}), are read too: the first user turn is
 * the prompt, the first assistant turn after it the answer, and {@code kind} the category when
 * there is no {@code category}.
 */
final class JsonlPromptLoader {

    private JsonlPromptLoader() {
    }

    public static Dataset load(String path) {
        String stem = DatasetFiles.stem(path);
        List<EvalExample> out = new ArrayList<>();
        for (JsonlFile.Line l : JsonlFile.read(path)) {
            String id = l.optionalText("id");
            id = id == null ? stem + "-" + out.size() : id;
            if (l.node().has("messages") && !l.node().has("prompt")) {
                out.add(fromMessages(l, id));
            } else {
                out.add(new EvalExample(id, l.text("prompt"), l.optionalText("answer"), l.optionalText("category"),
                        List.of(), Map.of()));
            }
        }
        return new Dataset(path, DatasetKind.JSONL, out);
    }

    private static EvalExample fromMessages(JsonlFile.Line l, String id) {
        JsonNode messages = l.node().get("messages");
        if (!messages.isArray()) {
            throw l.bad("field 'messages' must be a list of {role, content}");
        }
        String prompt = null;
        String answer = null;
        for (JsonNode m : messages) {
            String role = m.path("role").asText("");
            JsonNode content = m.get("content");
            if (content == null || !content.isTextual()) {
                throw l.bad("every message needs a text 'content'");
            }
            if (prompt == null && role.equals("user")) {
                prompt = content.asText();
            } else if (prompt != null && answer == null && role.equals("assistant")) {
                answer = content.asText();
            }
        }
        if (prompt == null || prompt.isBlank()) {
            throw l.bad("'messages' has no user turn");
        }
        String category = l.optionalText("category");
        return new EvalExample(id, prompt, answer, category == null ? l.optionalText("kind") : category,
                List.of(), Map.of());
    }
}
