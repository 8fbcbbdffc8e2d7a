package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/** The definitions mergekit picks (its arch_info_for_config), from the table of its JSON files. */
class MergekitArchitecturesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static ObjectNode config(String architecture, String modelType) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(architecture);
        if (modelType != null) {
            c.put("model_type", modelType);
        }
        return c;
    }

    private static String definition(String architecture, String modelType) {
        return MergekitArchitectures.of(config(architecture, modelType)).map(MergekitArchitectures.Definition::name)
                .orElse(null);
    }

    @Test
    void oneDefinitionListsBothSpellingsOfLlama() {
        assertEquals("llama", definition("LlamaForCausalLM", "llama"));
        assertEquals("llama", definition("LLaMaForCausalLM", null), "the model type only chooses among several");
        assertEquals("mistral", definition("MistralForCausalLM", "mistral"));
        assertNotEquals(definition("LlamaForCausalLM", "llama"), definition("MistralForCausalLM", "mistral"));
        assertEquals(definition("BertForSequenceClassification", "bert"), definition("BertForTokenClassification", "bert"));
    }

    @Test
    void phiIsChosenByItsModelTypeAndIsUnknownWithAnother() {
        assertEquals("phi2", definition("PhiForCausalLM", "phi"));
        assertEquals("phi2-old", definition("PhiForCausalLM", "phi-msft"));
        assertEquals(null, definition("PhiForCausalLM", "phi3"), "mergekit: none match, so it infers");
    }

    @Test
    void theDefinitionsBuiltInCodeComeFirstAndUnknownNamesHaveNone() {
        assertEquals("moe_defs.Glm4MoeModuleArchitecture", definition("Glm4MoeForCausalLM", "glm4_moe"));
        assertEquals("moe_defs.AfmoeModuleArchitecture", definition("AfmoeForCausalLM", "afmoe"));
        assertEquals(null, definition("MyOwnForCausalLM", "mine"));
        assertTrue(MergekitArchitectures.of(JSON.createObjectNode()).isEmpty(), "no architectures key");
        assertTrue(MergekitArchitectures.of(null).isEmpty(), "no config.json");
    }
}
