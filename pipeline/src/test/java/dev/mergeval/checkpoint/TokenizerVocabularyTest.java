package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelFiles#tokenizerVocabulary} streams {@code tokenizer.json} (skipping a BPE
 * tokenizer's merges) and must give what reading the whole tree gives, as Hugging Face's
 * {@code get_vocab()}: the model's vocabulary (a mapping, or Unigram's pieces numbered in order)
 * with the added tokens over it.
 */
class TokenizerVocabularyTest {

    private static final Configuration CONF = new Configuration();

    @TempDir
    Path tmp;

    /** The vocabulary read from the whole tree: the reference. */
    private static Map<String, Integer> fromTree(Path dir) throws IOException {
        JsonNode root = Mappers.JSON.readTree(dir.resolve("tokenizer.json").toFile());
        Map<String, Integer> vocab = new LinkedHashMap<>();
        JsonNode model = root.path("model").path("vocab");
        if (model.isObject()) {
            model.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        } else {
            for (int i = 0; i < model.size(); i++) {
                vocab.put(model.get(i).path(0).asText(), i);
            }
        }
        root.path("added_tokens").forEach(t -> vocab.put(t.path("content").asText(), t.path("id").asInt()));
        return vocab;
    }

    @Test
    void realBpeTokenizersReadAsTheirWholeTree() throws IOException {
        for (Path dir : List.of(TestModels.projectRoot().resolve("models/toy/aligned"), TestModels.stories260K())) {
            Map<String, Integer> streamed = ModelFiles.tokenizerVocabulary(dir.toString(), CONF);
            assertEquals(fromTree(dir), streamed, dir.toString());
            assertEquals(List.copyOf(fromTree(dir).keySet()), List.copyOf(streamed.keySet()), dir + ": order");
        }
    }

    @Test
    void unigramPiecesAreNumberedInOrderAndAddedTokensWin() throws IOException {
        Files.writeString(tmp.resolve("tokenizer.json"), """
                {"version": "1.0", "added_tokens": [{"id": 0, "content": "<pad>", "special": true},
                   {"id": 4, "content": "<extra>", "lstrip": false, "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Nmt"}]},
                 "model": {"type": "Unigram", "unk_id": 1, "byte_fallback": false,
                   "vocab": [["<pad>", 0.0], ["<unk>", 0.0], ["\\u2581the", -3.5], ["s", -4.25e-1]]}}
                """);
        Map<String, Integer> streamed = ModelFiles.tokenizerVocabulary(tmp.toString(), CONF);
        assertEquals(fromTree(tmp), streamed);
        assertEquals(Map.of("<pad>", 0, "<unk>", 1, "\u2581the", 2, "s", 3, "<extra>", 4), streamed);
    }

    @Test
    void noTokenizerIsNullAndABrokenOneIsBadInputNamingIt() throws IOException {
        assertNull(ModelFiles.tokenizerVocabulary(tmp.toString(), CONF));
        Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0,");
        BadInputException e = assertThrows(BadInputException.class,
                () -> ModelFiles.tokenizerVocabulary(tmp.toString(), CONF));
        assertTrue(e.getMessage().contains("tokenizer.json: not valid JSON"), e.getMessage());
    }
}
