package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every reader rejects duplicate keys; every writer writes what the mapper it replaced wrote. */
class MappersTest {

    private static final Map<String, Object> VALUE = value();

    private static Map<String, Object> value() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("zeta", 1.0e-5);
        m.put("alpha", List.of("yes", "1", "a: b", 0.5));
        m.put("name", "model.layers.0");
        m.put("nested", Map.of("k", true));
        return m;
    }

    record Settings(Long seed, Double tolerance, Integer limit, List<String> stop, Inner inner, Boolean on) {
    }

    record Inner(Integer n) {
    }

    /** A value of the wrong kind is named in a user's words, not by Java classes and Jackson settings. */
    @Test
    void aValueOfTheWrongKindSaysWhichKindBelongs() {
        ObjectMapper yaml = Mappers.yaml().build();
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("seed: abc", "must be a whole number (got 'abc')");
        cases.put("limit: abc", "must be a whole number (got 'abc')");
        cases.put("limit: 2.5", "must be written as a whole number (got 2.5)");
        cases.put("tolerance: abc", "must be a number (got 'abc')");
        cases.put("stop: 5", "must be a list (got 5)");
        cases.put("inner: 5", "must be a mapping (got 5)");
        cases.put("inner: [1]", "must be a mapping (got a list)");
        cases.put("on: maybe", "must be true or false (got 'maybe')");
        cases.put("[a, b]", "must be a mapping (got a list)");
        cases.forEach((text, expected) -> {
            var e = assertThrows(com.fasterxml.jackson.databind.JsonMappingException.class,
                    () -> yaml.readValue(text, Settings.class), text);
            assertEquals(expected, Mappers.problem(e), text);
        });
    }

    @Test
    void readersRejectDuplicateKeys() throws Exception {
        assertThrows(JsonProcessingException.class, () -> Mappers.JSON.readTree("{\"a\": 1, \"a\": 2}"));
        assertThrows(JsonProcessingException.class, () -> Mappers.YAML.readTree("a: 1\na: 2\n"));
        assertThrows(JsonProcessingException.class, () -> Mappers.json().build().readTree("{\"a\": 1, \"a\": 2}"));
        assertEquals(2, Mappers.JSON.readTree("{\"a\": 1, \"b\": 2}").size());
    }

    @Test
    void yamlReadsAnEmptyValueAsNullAsAPlainYamlFactoryDoes() throws Exception {
        String yaml = "a:\nb: ''\n";
        assertEquals(new ObjectMapper(new YAMLFactory()).readTree(yaml), Mappers.YAML.readTree(yaml));
        assertTrue(Mappers.YAML.readTree(yaml).get("a").isNull(), "'a:' is null, not an empty string");
    }

    @Test
    void writersKeepTheirBytes() throws Exception {
        assertEquals(new ObjectMapper().writeValueAsString(VALUE), Mappers.JSON.writeValueAsString(VALUE));
        assertEquals(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(VALUE),
                Mappers.PRETTY.writeValueAsString(VALUE));
        assertEquals(new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).writeValueAsString(VALUE),
                Mappers.SORTED.writeValueAsString(VALUE));
        assertEquals(new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                        .enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(VALUE),
                Mappers.SORTED_PRETTY.writeValueAsString(VALUE));
        assertEquals(new ObjectMapper(new YAMLFactory()
                        .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                        .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)).writeValueAsString(VALUE),
                Mappers.YAML.writeValueAsString(VALUE));
        assertEquals(new ObjectMapper(new YAMLFactory()).writeValueAsString(VALUE), Mappers.QUOTED_YAML.writeValueAsString(VALUE));
        assertTrue(Mappers.SORTED.writeValueAsString(VALUE).startsWith("{\"alpha\""));
    }
}
