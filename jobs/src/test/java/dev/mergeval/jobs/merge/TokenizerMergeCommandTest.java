package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Mappers;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * A merge whose embedding rows are re-indexed to a built tokenizer ({@code tokenizer:} block with
 * {@code union}, a listed token and padding), over {@code slices:}, through {@code mergeval merge}
 * in one JVM and on Spark {@code local[2]}, where each executor reads the tokenizers and re-indexes
 * the rows itself: the same shards and the same written tokenizer.
 */
class TokenizerMergeCommandTest {

    private static final Configuration CONF = new Configuration();

    @Test
    void aUnionWithListedTokensAndPaddingMergesAlikeInOneJvmAndOnSpark() throws IOException {
        Path work = ProjectLayout.scratch("tokenizer-merge-");
        Path base = TinyModels.write(work.resolve("base"), untied(64), DType.BF16, 1, Long.MAX_VALUE);
        Path tune = TinyModels.write(work.resolve("tune"), untied(70), DType.BF16, 2, 20_000);
        Path config = work.resolve("union.yml");
        Files.writeString(config, """
                merge_method: linear
                slices:
                  - sources: [{model: %1$s, layer_range: [0, 2]}, {model: %2$s, layer_range: [0, 2]}]
                parameters: {weight: [{filter: mlp, value: 0.3}, {value: 0.5}]}
                tokenizer:
                  source: union
                  tokens:
                    "<extra>": {source: {kind: model_token, model: %2$s, token: w65}}
                  pad_to_multiple_of: 16
                """.formatted(base, tune));
        Path single = work.resolve("single");
        Path spark = work.resolve("spark");
        Map<String, String> shards = MergeFixtures.mergeCommand(config, single, "--threads", "2");
        assertEquals(shards, MergeFixtures.mergeCommand(config, spark, "--master", "local[2]"));
        assertArrayEquals(Files.readAllBytes(single.resolve("tokenizer.json")),
                Files.readAllBytes(spark.resolve("tokenizer.json")));
        assertEquals(80, Mappers.JSON.readTree(spark.resolve("config.json").toFile()).get("vocab_size").asInt());
        try (Checkpoint out = Checkpoint.open(spark.toString(), CONF);
                Checkpoint t = Checkpoint.open(tune.toString(), CONF)) {
            assertArrayEquals(new long[] {80, 32}, out.info("model.embed_tokens.weight").shape());
            // "<extra>" (id 70) is w65's row in both inputs, so their weighted mean is that row.
            float[] extra = out.readFloats("lm_head.weight", 70L * 32, 32);
            float[] w65 = t.readFloats("lm_head.weight", 65L * 32, 32);
            for (int j = 0; j < 32; j++) {
                assertEquals(w65[j], extra[j], Math.abs(w65[j]) / 64, "column " + j);
            }
        }
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode untied(int vocab) {
        return TinyModels.llamaConfig().put("tie_word_embeddings", false).put("vocab_size", vocab);
    }
}
