package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** Which tensors are vocabulary matrices, and the shape their inputs merge to. */
class EmbeddingRowsTest {

    @Test
    void theVocabularyMatricesOfMergekitsArchitecturesAreRecognisedByName() {
        for (String name : List.of("model.embed_tokens.weight", "lm_head.weight", "transformer.wte.weight",
                "gpt_neox.embed_in.weight", "embed_out.weight", "model.language_model.embed_tokens.weight",
                "transformer.embedding.word_embeddings.weight", "model.tok_embeddings.weight", "output.weight",
                "lm_head.linear.weight", "transformer.output_layer.weight")) {
            assertTrue(EmbeddingRows.isEmbedding(name), name);
        }
        for (String name : List.of("model.layers.0.mlp.down_proj.weight", "model.norm.weight", "lm_head.bias",
                "model.layers.0.attn.output.weight", "model.embed_tokens_scale", "transformer.wpe.weight")) {
            assertFalse(EmbeddingRows.isEmbedding(name), name);
        }
    }

    @Test
    void embeddingsMergeOverTheirCommonRowsAndNothingElseMayDiffer() {
        String embed = "model.embed_tokens.weight";
        assertArrayEquals(new long[] {64, 8}, EmbeddingRows.common(embed, List.of(new long[] {70, 8},
                new long[] {64, 8}, new long[] {66, 8})));
        assertArrayEquals(new long[] {5, 8}, EmbeddingRows.common("model.norm.weight", List.of(new long[] {5, 8},
                new long[] {5, 8})));
        assertNull(EmbeddingRows.common(embed, List.of(new long[] {64, 8}, new long[] {64, 9})));
        assertNull(EmbeddingRows.common("model.layers.0.mlp.up_proj.weight", List.of(new long[] {64, 8},
                new long[] {65, 8})));
        assertTrue(EmbeddingRows.supplies(embed, new long[] {70, 8}, new long[] {64, 8}));
        assertFalse(EmbeddingRows.supplies(embed, new long[] {60, 8}, new long[] {64, 8}));
        assertFalse(EmbeddingRows.supplies("model.norm.weight", new long[] {70, 8}, new long[] {64, 8}));
    }

    @Test
    void theVocabSizeFollowsEmbeddingsThatLostRows() {
        ObjectNode config = Mappers.JSON.createObjectNode().put("vocab_size", 70);
        assertEquals(OptionalInt.of(64), EmbeddingRows.vocabSize(Map.of("model.embed_tokens.weight",
                new long[] {64, 8}, "model.norm.weight", new long[] {8}), config, false));
        assertEquals(OptionalInt.empty(), EmbeddingRows.vocabSize(Map.of("model.embed_tokens.weight",
                new long[] {70, 8}), config, false));
        // Re-indexed to a tokenizer's vocabulary, the rows are the vocab_size, more or fewer.
        assertEquals(OptionalInt.of(72), EmbeddingRows.vocabSize(Map.of("model.embed_tokens.weight",
                new long[] {72, 8}), config, true));
        assertEquals(OptionalInt.empty(), EmbeddingRows.vocabSize(Map.of("model.embed_tokens.weight",
                new long[] {70, 8}), config, true));
        assertEquals(OptionalInt.empty(), EmbeddingRows.vocabSize(Map.of("model.embed_tokens.weight",
                new long[] {64, 8}), Mappers.JSON.createObjectNode(), false));
    }
}
