package dev.mergeval.provenance;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A provenance record: how one output was made. Written as indented JSON with a final newline;
 * {@link #read(String, Class)} parses it back into the same record.
 *
 * <p>Reading ignores keys the record does not know, so a file written by a later version that
 * added keys still loads (Tribuo's rule for provenance); keys a record gained later read as
 * {@code null} from an older file.
 */
public sealed interface Provenance
        permits MergeProvenance, EvalProvenance, JudgeProvenance, SweepProvenance, FineTuneProvenance, ToyProvenance,
        LoraAdapterProvenance {

    /** The one mapper for provenance; the records name their keys themselves (snake_case). */
    ObjectMapper JSON = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** This record as the text of its provenance file. */
    default String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the provenance of " + getClass().getSimpleName(), e);
        }
    }

    /**
     * Parses a provenance file's text as {@code kind}.
     *
     * @throws BadInputException if the text is not JSON or does not fit {@code kind}
     */
    static <T extends Provenance> T read(String json, Class<T> kind) {
        try {
            return JSON.readValue(json, kind);
        } catch (JsonProcessingException e) {
            throw new BadInputException("not a " + kind.getSimpleName() + ": " + e.getOriginalMessage(), e);
        }
    }

    /**
     * A free-form part of a record (merge parameters, a method's analysis, a training
     * configuration) as it reads back from JSON, so a record built in memory equals the record
     * read from its file: numbers take the type parsing gives them (a long 3 becomes an int 3).
     */
    static JsonNode tree(Object value) {
        if (value == null) {
            return null;
        }
        try {
            return JSON.readTree(JSON.writeValueAsString(value));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
