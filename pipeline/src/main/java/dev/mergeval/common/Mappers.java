package dev.mergeval.common;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;

/**
 * The project's Jackson mappers, configured once. Every reader rejects a duplicate key (a config or
 * header that says a thing twice is an error, not "last one wins"), a JSON reader anything after the
 * value it reads (as Python's {@code json.load}: "Extra data"; {@link YamlReader} refuses a second YAML
 * document), and a YAML reader a fraction
 * where a whole number belongs. Writers differ only where their files always have: plain one-line
 * JSON, Jackson's default pretty printer (two-space indent, {@code "key" : value}), map entries
 * sorted by key, and two YAML styles. The shared instances must
 * not be reconfigured; a caller that needs more (a naming strategy, subtypes) starts from
 * {@link #json()} or {@link #yaml()}.
 */
public final class Mappers {

    /** JSON, one line on output. */
    public static final ObjectMapper JSON = json().build();

    /**
     * JSON for objects keyed by many distinct names (a safetensors header or index holds one key per
     * tensor, tens of thousands in a mixture of experts). Jackson keeps every field name it reads in a
     * table, to reuse the string when the name comes again; a name longer than 12 bytes goes in an
     * area that grows by at most 16 KiB at a time, each growth a copy: a header of 16,384 tensors
     * allocated about 40 MB parsing it, and the copies grew as the square of its size. These names do
     * not come again.
     */
    public static final ObjectMapper DISTINCT_KEYS = JsonMapper.builder(JsonFactory.builder()
                    .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** JSON written with Jackson's default pretty printer (provenance, configs, markers). */
    public static final ObjectMapper PRETTY = json().enable(SerializationFeature.INDENT_OUTPUT).build();

    /** JSON with map entries sorted by key, one line: output independent of map iteration order. */
    public static final ObjectMapper SORTED = json().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();

    /** {@link #SORTED}, pretty-printed. */
    public static final ObjectMapper SORTED_PRETTY = json()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** JSON with map entries and bean properties sorted: one text per value, fit for hashing. */
    public static final ObjectMapper CANONICAL = canonical().build();

    /** YAML as mergekit writes it: no {@code ---} line, strings quoted only where YAML needs it. */
    public static final ObjectMapper YAML = yaml().build();

    /**
     * YAML in Jackson's default style ({@code ---} first, every string quoted): how inline eval
     * suites are written out, kept so those files and their hashes stay as they were.
     */
    public static final ObjectWriter QUOTED_YAML = YAMLMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build()
            .writer();

    private Mappers() {
    }

    /**
     * A JSON mapper builder that rejects duplicate keys and anything after the value read, as
     * Python's {@code json.load} does ("Extra data"): a file is one value.
     */
    public static JsonMapper.Builder json() {
        return JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /** {@link #json()} with sorted map entries and properties ({@link #CANONICAL}). */
    public static JsonMapper.Builder canonical() {
        return json()
                .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                .enable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY);
    }

    /** A YAML mapper builder that rejects duplicate keys and writes mergekit's style ({@link #YAML}). */
    public static YAMLMapper.Builder yaml() {
        // YAMLFactory.builder() leaves EMPTY_STRING_AS_NULL off, unlike new YAMLFactory(): "key:" must read as null.
        return YAMLMapper.builder(YAMLFactory.builder()
                        .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
                        .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                        .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                        .build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                // A fraction where a whole number belongs is an error (see problem), where Jackson
                // would cut it (max_new_tokens: 16.5 read as 16).
                .withCoercionConfig(LogicalType.Integer,
                        c -> c.setCoercion(CoercionInputShape.Float, CoercionAction.Fail));
    }

    /**
     * Jackson's message about a file's syntax in one line, whitespace collapsed; its message for
     * what follows the value ({@link DeserializationFeature#FAIL_ON_TRAILING_TOKENS}) in a user's words.
     */
    public static String oneLine(String message) {
        if (message == null) {
            return "";
        }
        if (message.startsWith("Trailing token")) {
            return "more after the end of the JSON value, where one value belongs";
        }
        return message.replaceAll("\\s+", " ").trim();
    }

    /**
     * What is wrong with a value a YAML or JSON file gave, in one line for a bad-input message: a
     * fraction for a whole number says so; a value of the wrong kind says which kind belongs and
     * what was given ({@code must be a whole number (got 'abc')}, {@code must be a mapping (got a
     * list)}), where Jackson would name Java classes and its own settings; anything else is Jackson's
     * first line.
     */
    public static String problem(JsonMappingException e) {
        if (e instanceof InvalidFormatException f && f.getValue() instanceof Number n && isWhole(f.getTargetType())) {
            return "must be written as a whole number (got " + n + ")";
        }
        String expected = e instanceof MismatchedInputException m ? expected(m.getTargetType()) : null;
        if (expected != null) {
            String got = e instanceof InvalidFormatException f ? shownValue(f.getValue()) : shownToken(e.getProcessor());
            return "must be " + expected + (got == null ? "" : " (got " + got + ")");
        }
        String message = e.getOriginalMessage();
        return message == null ? "" : message.split("\n")[0].trim();
    }

    /** The kind of YAML/JSON value {@code type} reads, in a user's words; null for an enum or unknown. */
    private static String expected(Class<?> type) {
        if (type == null || type.isEnum()) {
            return null;
        }
        if (isWhole(type) || type == java.math.BigInteger.class) {
            return "a whole number";
        }
        if (Number.class.isAssignableFrom(type) || type == double.class || type == float.class) {
            return "a number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "a string";
        }
        if (java.util.Collection.class.isAssignableFrom(type) || type.isArray()) {
            return "a list";
        }
        return type.isPrimitive() || type == Object.class ? null : "a mapping";
    }

    /** A value read, as a message quotes it: text in quotes, numbers and booleans as they are. */
    private static String shownValue(Object value) {
        return value instanceof String text ? "'" + text + "'" : value == null ? null : String.valueOf(value);
    }

    /** The value the parser stopped at, as {@link #shownValue}; a list or mapping by its kind. */
    private static String shownToken(Object processor) {
        if (!(processor instanceof JsonParser p) || p.currentToken() == null) {
            return null;
        }
        try {
            return switch (p.currentToken()) {
                case START_ARRAY -> "a list";
                case START_OBJECT -> "a mapping";
                case VALUE_STRING -> "'" + p.getText() + "'";
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> p.getText();
                default -> null;
            };
        } catch (IOException unreadable) {
            return null;
        }
    }

    private static boolean isWhole(Class<?> type) {
        return type == int.class || type == long.class || type == short.class || type == Integer.class
                || type == Long.class || type == Short.class;
    }

    /**
     * The index of the first half of a UTF-16 surrogate pair in {@code text} that has no other half
     * (a JSON {@code \\ud800} escape alone), or -1: such text is no Unicode, cannot be encoded as
     * UTF-8, and Jackson accepts it.
     */
    public static int loneSurrogate(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }
}
