package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class MergeConfigTest {
    private static final String TIES = """
            models:
              - model: org/finetune-a
                parameters:
                  weight: 0.7
                  density: [0.2, 0.8]
              - model: org/base
              - model: s3a://bucket/finetune-b
                parameters:
                  weight: 0.3
            merge_method: ties
            base_model: org/base
            parameters:
              normalize: false
              density: 0.5
            dtype: bfloat16
            out_dtype: torch.float16
            tokenizer_source: base
            """;

    @Test
    void parsesMergekitFieldsAndOrdersInputsBaseFirst() {
        MergeConfig c = MergeConfig.parse(TIES, "ties.yaml");
        assertEquals("ties", c.mergeMethod());
        assertEquals(Optional.of("org/base"), c.baseModel());
        assertEquals(List.of("org/base", "org/finetune-a", "s3a://bucket/finetune-b"), c.inputModels());
        assertEquals(3, c.models().size());
        assertEquals(new ModelEntry("org/finetune-a", Map.of("weight", 0.7, "density", List.of(0.2, 0.8))),
                c.models().get(0));
        assertEquals(Optional.of("bfloat16"), c.dtype());
        assertEquals(Optional.of("float16"), c.outDtype());
        assertEquals(false, c.parameters().get("normalize"));
    }

    @Test
    void normalizedYamlIsCanonicalAndReparses() {
        MergeConfig c = MergeConfig.parse(TIES, "ties.yaml");
        String reordered = """
                merge_method: ties
                dtype: bfloat16
                parameters: {density: 0.5, normalize: false}
                base_model: org/base
                tokenizer_source: base
                out_dtype: float16
                models:
                  - model: org/finetune-a
                    parameters: {density: [0.2, 0.8], weight: 0.7}
                  - model: org/base
                  - model: s3a://bucket/finetune-b
                    parameters: {weight: 0.3}
                """;
        String normalized = c.normalizedYaml();
        assertEquals(normalized, MergeConfig.parse(reordered, "other.yaml").normalizedYaml());
        assertEquals(normalized, MergeConfig.parse(normalized, "again.yaml").normalizedYaml());
        assertTrue(normalized.startsWith("merge_method: ties\n"), normalized);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "slices|merge_method: linear\\nslices:\\n  - sources: []\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer|merge_method: linear\\ntokenizer: {source: union}\\ntokenizer_source: union\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer.tokens.x.source.kind|merge_method: linear\\ntokenizer: {tokens: {x: {source: {kind: one}}}}\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer.tokens.x.source|merge_method: linear\\ntokenizer: {tokens: {x: {source: b}}}\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer.tokens.x.source|merge_method: linear\\ntokenizer: {tokens: {x: {source: {kind: model_token, model: a}}}}\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer.tokens.x.force|merge_method: linear\\ntokenizer: {tokens: {x: {source: a, force: yes please}}}\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "tokenizer.pad_to_multiple_of|merge_method: linear\\ntokenizer: {pad_to_multiple_of: -8}\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "chat_template|merge_method: linear\\nchat_template: bogus\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "chat_template|merge_method: linear\\nchat_template: 3\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "merge_method|merge_method: frankenmerge\\nmodels: [{model: a}]",
        "merge_method|models: [{model: a}]",
        "models|merge_method: linear",
        "models[1].parameters.weight|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}, {model: c}]",
        "models[0].parameters.weight|merge_method: ties\\nbase_model: b\\nmodels: [{model: a}]",
        "parameters.t|merge_method: slerp\\nbase_model: b\\nmodels: [{model: a}]",
        "base_model|merge_method: ties\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "base_model|merge_method: model_stock\\nmodels: [{model: a}, {model: c}]",
        "models[0].parameters.weight|merge_method: linear\\nmodels: [{model: a, parameters: {weight: heavy}}]",
        "parameters.normalize|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}]\\nparameters: {normalize: maybe}",
        "models[1].model|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}, {model: a, parameters: {weight: 1}}]",
        "dtype|merge_method: linear\\ndtype: int4\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "base_model|merge_method: linear\\nbase_model: b\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "models|merge_method: passthrough\\nmodels: [{model: a}, {model: c}]",
        "models|merge_method: slerp\\nbase_model: b\\nmodels: [{model: a}, {model: c}]\\nparameters: {t: 0.5}",
        "models|merge_method: model_stock\\nbase_model: b\\nmodels: [{model: a}]",
        "models|merge_method: nuslerp\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "parameters.rescale_mode|merge_method: dare_linear\\nbase_model: b\\nmodels: [{model: a, parameters: {weight: 1}}]\\nparameters: {rescale_mode: l2}",
        "parameters.weight[1].value|merge_method: linear\\nmodels: [{model: a}]\\nparameters: {weight: [{filter: mlp, value: 1}, {filter: attn}]}",
    })
    void rejectsUnsupportedInputNamingTheKey(String key, String yaml) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeConfig.parse(yaml.replace("\\n", "\n"), "bad.yaml"));
        assertTrue(e.getMessage().startsWith("bad.yaml: " + key + ": "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    /** What mergekit reads past without a word: ignored, with the key recorded, the merge unchanged. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "name|merge_method: linear\\nname: x\\nmodels: [{model: a, parameters: {weight: 1}}]"
            + "|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "models[0].parameters.density|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1, density: 0.5}}]"
            + "|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "parameters.gamma|merge_method: ties\\nbase_model: b\\nmodels: [{model: a, parameters: {weight: 1}}]\\nparameters: {gamma: 0.1}"
            + "|merge_method: ties\\nbase_model: b\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "models[0].revision|merge_method: linear\\nmodels: [{model: a, revision: main, parameters: {weight: 1}}]"
            + "|merge_method: linear\\nmodels: [{model: a, parameters: {weight: 1}}]",
        "parameters.weight[0].match|merge_method: linear\\nmodels: [{model: a}]\\nparameters: {weight: [{match: mlp, value: 1}]}"
            + "|merge_method: linear\\nmodels: [{model: a}]\\nparameters: {weight: [{value: 1}]}",
        // mergekit's tests/test_basic_merges.py gives every model a weight, whichever the method.
        "models[0].parameters.weight|merge_method: karcher\\nmodels: [{model: a, parameters: {weight: 0.6}}, {model: c}]"
            + "|merge_method: karcher\\nmodels: [{model: a}, {model: c}]",
        "slices[0].residual_weight|merge_method: passthrough\\nslices: [{sources: [{model: a, layer_range: [0, 2]}],"
            + " residual_weight: 0.5}]|merge_method: passthrough\\nslices: [{sources: [{model: a, layer_range: [0, 2]}]}]",
    })
    void ignoresWhatMergekitIgnores(String key, String yaml, String without) {
        MergeConfig c = MergeConfig.parse(yaml.replace("\\n", "\n"), "lax.yaml");
        assertEquals(1, c.ignored().size(), c.ignored().toString());
        assertTrue(c.ignored().get(0).startsWith(key + ": "), c.ignored().toString());
        assertEquals(MergeConfig.parse(without.replace("\\n", "\n"), "lax.yaml").normalizedYaml(), c.normalizedYaml());
    }

    @Test
    void invalidYamlIsOneLineBadInput() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeConfig.parse("models: [unclosed\n  - x: {", "broken.yaml"));
        assertTrue(e.getMessage().startsWith("broken.yaml: invalid YAML"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
        assertThrows(BadInputException.class, () -> MergeConfig.parse("- a\n- b\n", "list.yaml"));
        BadInputException dup = assertThrows(BadInputException.class,
                () -> MergeConfig.parse("merge_method: linear\nmerge_method: ties\nmodels: []", "dup.yaml"));
        assertEquals("dup.yaml:2: invalid YAML: Duplicate field 'merge_method'", dup.getMessage(), "with its line");
    }

    @Test
    void requiredWeightMayComeFromGlobalParameters() {
        MergeConfig c = MergeConfig.parse("""
                merge_method: linear
                models: [{model: a}, {model: b}]
                parameters: {weight: 0.5}
                """, "global.yaml");
        assertEquals(List.of("a", "b"), c.inputModels());
    }

    @Test
    void scientificNotationWithoutDotIsAcceptedAsNumber() {
        // YAML 1.1 reads 1e-3 as a string; mergekit's pydantic types coerce it to float.
        MergeConfig c = MergeConfig.parse("""
                merge_method: linear
                models: [{model: a, parameters: {weight: 1e-3}}]
                """, "sci.yaml");
        assertEquals(1e-3, ((Number) c.models().get(0).parameters().get("weight")).doubleValue(), 0.0);
    }

    @Test
    void isAValueThatSurvivesJavaSerialization() throws Exception {
        // With a key nothing reads (recorded in ignored(), which travels too).
        MergeConfig c = MergeConfig.parse(TIES + "revision: main\n", "ties.yaml", "/conf/ties.yaml");
        assertEquals(1, c.ignored().size());
        assertEquals(c, MergeConfig.parse(TIES + "revision: main\n", "ties.yaml", "/conf/ties.yaml"));
        assertEquals(c.hashCode(), MergeConfig.parse(TIES + "revision: main\n", "ties.yaml", "/conf/ties.yaml").hashCode());
        assertNotEquals(c, MergeConfig.parse((TIES + "revision: main\n").replace("weight: 0.3", "weight: 0.4"),
                "ties.yaml", "/conf/ties.yaml"));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(c);
        }
        Object back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = in.readObject();
        }
        assertEquals(c, back);
        MergeConfig copy = (MergeConfig) back;
        assertEquals(c.ignored(), copy.ignored());
        assertEquals(c.normalizedYaml(), copy.normalizedYaml());
        assertEquals(Optional.of("/conf/ties.yaml"), copy.location());
        assertEquals("ties", copy.method().name());
    }
}
