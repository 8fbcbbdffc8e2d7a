package dev.mergeval.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The package's JSON mapper: duplicate keys are an error, not "last one wins"; keys are read as
 * distinct names ({@link Mappers#DISTINCT_KEYS}: headers and indexes have one per tensor).
 */
final class Json {

    static final ObjectMapper MAPPER = Mappers.DISTINCT_KEYS;

    private Json() {
    }

    /** Parses bytes that must hold one JSON object; {@code what} names the source in errors. */
    static ObjectNode parseObject(byte[] bytes, String what) {
        JsonNode node;
        try {
            node = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new BadInputException(what + ": not valid JSON: " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new BadInputException(what + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        if (node == null || !node.isObject()) {
            throw new BadInputException(what + ": expected a JSON object");
        }
        return (ObjectNode) node;
    }

    /** Reads a small JSON object file (config, index) whole; capped to keep a bad file harmless. */
    static ObjectNode readObject(FileSystem fs, Path file, long maxBytes) {
        try {
            long len = fs.getFileStatus(file).getLen();
            if (len > maxBytes) {
                throw new BadInputException(file + ": " + len + " bytes, more than the "
                        + maxBytes + "-byte limit for a JSON file");
            }
            byte[] bytes = new byte[(int) len];
            try (InputStream in = fs.open(file)) {
                ((FSDataInputStream) in).readFully(bytes);
            }
            return parseObject(bytes, file.toString());
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException(file + ": not found");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + file, e);
        }
    }

    static String firstLine(String s) {
        if (s == null || s.startsWith("Trailing token")) {
            return Mappers.oneLine(s);
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
