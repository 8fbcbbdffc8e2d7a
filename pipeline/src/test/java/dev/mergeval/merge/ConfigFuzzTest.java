package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Seeded mutations of mergekit's example configs (a value replaced by another YAML value, a line
 * deleted, repeated or re-indented): each must parse, or fail with a one-line {@link BadInputException}
 * naming the config; never a class cast, a null pointer or a number format error from deep inside.
 */
class ConfigFuzzTest {
    private static final int CASES = 4000;

    /**
     * mergekit's examples/ties.yml (models renamed) and configs with the other methods' parameters;
     * with the project's {@code conf/merges} examples (mergekit's gradient SLERP and a frankenmerge).
     */
    private static final List<String> SEEDS = List.of("""
            models:
              - model: a
                parameters:
                  density: [1, 0.7, 0.1]
                  weight: 1.0
              - model: b
                parameters:
                  density: 0.5
                  weight: [0, 0.3, 0.7, 1]
              - model: c
                parameters:
                  density: 0.33
                  weight:
                    - filter: mlp
                      value: 0.5
                    - value: 0
            merge_method: ties
            base_model: base
            parameters:
              normalize: true
              int8_mask: true
            dtype: float16
            """, """
            slices:
              - sources:
                - model: a
                  layer_range: [0, 24]
              - sources:
                - model: b
                  layer_range: [20, 40]
            merge_method: passthrough
            dtype: float16
            """, """
            models:
              - model: a
              - model: b
                parameters: {weight: 0.5, select_topk: 0.3}
            merge_method: sce
            base_model: a
            tokenizer:
              source: union
              tokens:
                <|im_start|>: {source: b}
            chat_template: chatml
            out_dtype: bfloat16
            """, """
            models:
              - model: a
                parameters: {weight: 1.0}
              - model: b
                parameters: {weight: 0.5}
            merge_method: karcher
            parameters: {max_iter: 10, tol: 1.0e-5}
            tokenizer_source: base
            """);

    private static final String[] VALUES = {"-1", "0", "1e309", ".nan", "-.inf", "abc", "[]", "{}", "[1, \"x\"]",
        "null", "~", "true", "\"0.5\"", "{filter: mlp}", "[[0, 1]]", "!!binary aGVsbG8=", "2147483648",
        "9223372036854775808", "[0]", "[5, 2]", "[0, 1, 2]", "''", "{value: [0, 1]}", "- 1", "\"\\u0000\""};

    @Test
    void mutatedConfigsParseOrFailCleanly() throws IOException {
        List<String> seeds = new ArrayList<>(SEEDS);
        for (String example : List.of("gradient-slerp.yml", "frankenmerge.yml")) {
            seeds.add(Files.readString(Path.of("..", "conf", "merges", example)));
        }
        SplittableRandom random = new SplittableRandom(20261206L);
        int parsed = 0;
        for (int c = 0; c < CASES; c++) {
            String yaml = ConfigMutations.mutate(seeds.get(random.nextInt(seeds.size())), random, VALUES);
            try {
                MergeConfig.parse(yaml, "case" + c + ".yml").normalizedYaml();
                parsed++;
            } catch (BadInputException e) {
                assertTrue(e.getMessage().contains("case" + c + ".yml"), e.getMessage() + "\n" + yaml);
                assertTrue(!e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
            } catch (RuntimeException e) {
                throw new AssertionError("not a bad-input error for\n" + yaml, e);
            }
        }
        // Many mutations keep a valid config (a weight's value changed, a line repeated).
        assertTrue(parsed > 0 && parsed < CASES, parsed + " of " + CASES + " parsed");
    }
}
