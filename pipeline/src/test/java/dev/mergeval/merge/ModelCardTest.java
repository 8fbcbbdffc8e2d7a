package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The model card as mergekit's generate_card lays it out, for the shapes of config it handles differently. */
class ModelCardTest {

    private static String card(String yaml) {
        return ModelCard.render(MergeConfig.parse(yaml, "test.yaml"), yaml, "my-merge");
    }

    /** The lines of the "Models Merged" list. */
    private static List<String> bullets(String card) {
        return card.lines().filter(l -> l.startsWith("* ")).toList();
    }

    @Test
    void theFrontMatterIsYamlWithMergekitsKeys() throws Exception {
        String card = card("merge_method: linear\nmodels:\n  - {model: /m/a, parameters: {weight: 1}}\n"
                + "  - {model: /m/b, parameters: {weight: 1}}\n");
        assertTrue(card.startsWith("---\n"), card);
        String front = card.substring(4, card.indexOf("\n---\n", 4));
        JsonNode meta = new YAMLMapper().readTree(front);
        assertTrue(meta.get("base_model").isArray() && meta.get("base_model").isEmpty(), front);
        assertEquals("transformers", meta.get("library_name").asText());
        assertEquals(List.of("mergekit", "merge", "mergeval"),
                List.of(meta.get("tags").get(0).asText(), meta.get("tags").get(1).asText(), meta.get("tags").get(2).asText()));
        assertTrue(card.contains("\n# my-merge\n"), card);
        assertTrue(card.contains("merged using the [linear](https://arxiv.org/abs/2203.05482) merge method.\n"), card);
        assertEquals(List.of("* /m/a", "* /m/b"), bullets(card));
    }

    @Test
    void aBaseModelIsNamedAsTheBaseAndLeftOutOfTheList() {
        String yaml = "merge_method: ties\nbase_model: /m/base\nmodels:\n  - model: /m/base\n"
                + "  - {model: /m/tune+/m/adapter, parameters: {weight: 1, density: 0.5}}\n";
        String card = card(yaml);
        assertTrue(card.contains("merge method using /m/base as a base.\n"), card);
        assertEquals(List.of("* /m/tune+/m/adapter"), bullets(card));
        assertTrue(card.contains("```yaml\n" + yaml.strip() + "\n```"), card);
    }

    @Test
    void slerpsBaseModelIsOneOfTheModelsAsInMergekit() {
        String card = card("merge_method: slerp\nbase_model: /m/a\nmodels: [{model: /m/a}, {model: /m/b}]\n"
                + "parameters: {t: 0.5}\n");
        assertFalse(card.contains("as a base"), card);
        assertEquals(List.of("* /m/a", "* /m/b"), bullets(card));
    }

    @Test
    void slicesListEverySourceOnce() {
        String card = card("""
                slices:
                  - sources: [{model: /m/a, layer_range: [0, 2]}]
                  - sources: [{model: /m/b, layer_range: [1, 3]}]
                  - sources: [{model: /m/a, layer_range: [2, 4]}]
                merge_method: passthrough
                """);
        assertEquals(List.of("* /m/a", "* /m/b"), bullets(card));
        assertTrue(card.contains("[passthrough]"), card);
    }
}
