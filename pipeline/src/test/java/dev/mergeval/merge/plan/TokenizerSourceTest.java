package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tokenizer_source: base}: the base model's tokenizer files are the output's, and a model
 * that numbers the base's tokens differently (whose rows mergekit would re-index by token) is bad
 * input rather than a silent merge of unrelated rows.
 */
class TokenizerSourceTest {

    private static final Configuration CONF = new Configuration();

    @TempDir
    Path tmp;

    private String yaml(Path base, Path other) {
        return """
                merge_method: slerp
                base_model: %1$s
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}, {model: %2$s, layer_range: [0, 2]}]
                parameters: {t: 0.5}
                tokenizer_source: base
                """.formatted(base, other);
    }

    private MergeJob.Request request(String yaml, Path out) {
        return new MergeJob.Request("test.yaml", yaml, out.toString(), 0, false, PlanOptions.defaults());
    }

    @Test
    void baseTokenizerIsCopiedWhenTheVocabulariesAgree() throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path other = TinyModels.write(tmp.resolve("other"), TinyModels.llamaConfig(), DType.F32, 2, Long.MAX_VALUE);
        // A model without tokenizer.json is taken to share the base's vocabulary, as in mergekit.
        Path bare = TinyModels.write(tmp.resolve("bare"), TinyModels.llamaConfig(), DType.F32, 3, Long.MAX_VALUE);
        Files.delete(bare.resolve("tokenizer.json"));
        for (Path model : new Path[] {other, bare}) {
            Path out = tmp.resolve("out-" + model.getFileName());
            MergeJob.run(request(yaml(base, model), out), new LocalMergeExecutor(1, CONF, Progress.NONE), CONF);
            assertArrayEquals(Files.readAllBytes(base.resolve("tokenizer.json")),
                    Files.readAllBytes(out.resolve("tokenizer.json")));
        }
    }

    @Test
    void aModelThatNumbersTheBaseTokensDifferentlyIsBadInput() throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        Path other = TinyModels.write(tmp.resolve("other"), TinyModels.llamaConfig(), DType.F32, 2, Long.MAX_VALUE);
        Path tokenizer = other.resolve("tokenizer.json");
        String text = Files.readString(tokenizer);
        Files.writeString(tokenizer, text.replace("\"w3\" : 3,", "\"w3x\" : 3,"));
        Path out = tmp.resolve("out");
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(request(yaml(base, other), out),
                new LocalMergeExecutor(1, CONF, Progress.NONE), CONF));
        assertEquals("test.yaml: tokenizer_source: model '" + other + "' lacks token 'w3', which is 3 in base_model;"
                + " Mergeval merges embedding rows by index and does not re-index them to the base vocabulary by"
                + " token", e.getMessage());
        assertFalse(Files.exists(out));
    }
}
