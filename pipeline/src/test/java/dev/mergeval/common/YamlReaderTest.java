package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Aliases and merge keys read as PyYAML reads them; Jackson alone gave an alias's name as a string. */
class YamlReaderTest {

    private static JsonNode read(String yaml) throws IOException {
        return YamlReader.readTree(Mappers.YAML, yaml, "test.yaml");
    }

    @Test
    void aliasesAreTheNodesTheirAnchorsMarked() throws IOException {
        JsonNode root = read("""
                base: &base /models/base
                p: &p {weight: 0.5, density: [0.1, 0.9]}
                models:
                  - model: *base
                    parameters: *p
                  - &tune {model: /models/tune, parameters: {weight: *base}}
                  - *tune
                nested: &outer {inner: &inner [1, *base], again: *inner}
                after: *outer
                n: &n 3
                m: *n
                """);
        assertEquals("/models/base", root.at("/models/0/model").asText());
        assertEquals(root.get("p"), root.at("/models/0/parameters"));
        assertEquals(0.5, root.at("/models/0/parameters/weight").asDouble());
        assertEquals(root.at("/models/1"), root.at("/models/2"));
        assertEquals("/models/base", root.at("/models/2/parameters/weight").asText());
        assertEquals(read("{inner: [1, /models/base], again: [1, /models/base]}"), root.get("nested"));
        assertEquals(root.get("nested"), root.get("after"));
        assertTrue(root.get("m").isInt(), "a number stays a number: " + root.get("m"));
    }

    @Test
    void mergeKeysMergeAsPyYamlMerges() throws IOException {
        JsonNode root = read("""
                defaults: &d {weight: 1, density: 0.5, normalize: true}
                more: &m {density: 0.7, lambda: 2}
                one: {<<: *d, density: 0.3}
                two: {<<: [*m, *d]}
                """);
        assertEquals(read("{weight: 1, density: 0.3, normalize: true}"), root.get("one"));
        assertEquals(read("{density: 0.7, lambda: 2, weight: 1, normalize: true}"), root.get("two"),
                "the earlier mapping of the list wins");
        assertEquals(List.of("weight", "density", "normalize"), fieldNames(root.get("one")));
        BadInputException bad = assertThrows(BadInputException.class, () -> read("a: {<<: 3}"));
        assertTrue(bad.getMessage().startsWith("test.yaml: <<:"), bad.getMessage());
    }

    @Test
    void anAliasWithoutItsAnchorIsAnError() {
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> read("a: *nowhere"));
        assertTrue(e.getOriginalMessage().contains("*nowhere"), e.getOriginalMessage());
        assertThrows(JsonProcessingException.class, () -> read("a: &self [1, *self]"), "an anchor is complete only after its node");
    }

    /** A second document is refused, as PyYAML's safe_load refuses it; Jackson read the first and dropped it. */
    @Test
    void aSecondDocumentIsAnError() throws IOException {
        JsonProcessingException e = assertThrows(JsonProcessingException.class, () -> read("a: 1\n---\nb: 2\n"));
        assertTrue(e.getOriginalMessage().contains("single document"), e.getOriginalMessage());
        assertThrows(JsonProcessingException.class,
                () -> YamlReader.readValue(Mappers.YAML, "name: x\n---\nname: y\n", Spec.class));
        assertEquals(read("a: 1"), read("---\na: 1\n...\n"), "one document with its markers");
    }

    record Spec(String name, Map<String, Object> options, List<String> list) {
    }

    @Test
    void boundValuesSeeAliasesToo() throws IOException {
        Spec spec = YamlReader.readValue(Mappers.YAML, """
                name: &n first
                options: &o {a: 1, b: *n}
                list: [*n, second, *n]
                """, Spec.class);
        assertEquals(new Spec("first", Map.of("a", 1, "b", "first"), List.of("first", "second", "first")), spec);
    }

    /** PyYAML reads YAML 1.1's infinities and not-a-number as floats; Jackson's parser failed on them. */
    @Test
    void infinitiesAndNotANumberAreDoubles() throws IOException {
        JsonNode root = read("""
                a: [.inf, +.Inf, -.INF, .nan, .NaN, .NAN]
                b: &x -.inf
                c: *x
                d: [.in, .nana, inf, '.inf']
                """);
        JsonNode a = root.get("a");
        for (int i = 0; i < 3; i++) {
            assertTrue(a.get(i).isDouble(), a.toString());
            assertEquals(i < 2 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY, a.get(i).doubleValue(), a.toString());
        }
        for (int i = 3; i < 6; i++) {
            assertTrue(a.get(i).isDouble() && Double.isNaN(a.get(i).doubleValue()), a.toString());
        }
        assertEquals(Double.NEGATIVE_INFINITY, root.get("c").doubleValue(), "through an alias");
        root.get("d").forEach(n -> assertTrue(n.isTextual(), "not YAML's spellings, or quoted: " + n));
        assertEquals(2.5, read("a: 2.5").get("a").doubleValue(), "other floats as before");
        // A record's integer would take NaN as 0: bound values keep Jackson's error.
        assertThrows(JsonProcessingException.class, () -> YamlReader.readValue(Mappers.YAML, "seed: .nan", Seeded.class));
    }

    record Seeded(long seed) {
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
