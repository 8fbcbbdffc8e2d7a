package dev.mergeval.eval.datasets;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** A JSON Lines file: one JSON object per non-blank line, each kept with its line number. */
public final class JsonlFile {

    /** One object and the 1-based line it is on. */
    public record Line(String source, long line, JsonNode node) {

        /** A required string field; missing, non-text or blank is an error naming file and line. */
        public String text(String field) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw bad("missing field '" + field + "'");
            }
            if (!v.isTextual() && !v.isNumber()) {
                throw bad("field '" + field + "' must be a string, found " + v.getNodeType());
            }
            if (v.asText().isBlank()) {
                throw bad("empty field '" + field + "'");
            }
            return v.asText();
        }

        /** An optional string or number field, {@code null} when absent. */
        public String optionalText(String field) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isTextual() && !v.isNumber() && !v.isBoolean()) {
                throw bad("field '" + field + "' must be a string, found " + v.getNodeType());
            }
            return v.asText();
        }

        public BadInputException bad(String reason) {
            return new BadInputException(source + ":" + line + ": " + reason);
        }
    }

    private static final ObjectMapper MAPPER = Mappers.JSON;

    private JsonlFile() {
    }

    public static List<Line> read(String source) {
        List<Line> out = new ArrayList<>();
        try (BufferedReader r = DatasetFiles.open(source)) {
            String text;
            long line = 0;
            while ((text = r.readLine()) != null) {
                line++;
                if (text.isBlank()) {
                    continue;
                }
                JsonNode node;
                try {
                    node = MAPPER.readTree(text);
                } catch (JsonProcessingException e) {
                    throw new BadInputException(source + ":" + line + ": invalid JSON: " + e.getOriginalMessage());
                }
                if (!node.isObject()) {
                    throw new BadInputException(source + ":" + line + ": expected a JSON object, found "
                            + node.getNodeType());
                }
                out.add(new Line(source, line, node));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source, e);
        }
        return out;
    }
}
