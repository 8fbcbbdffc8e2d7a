package dev.mergeval.toy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.runtime.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A few training steps through the whole build: layout, provenance, loss, bit-reproducibility. */
class ToyModelBuilderTest {

    private static ToyRecipe tiny(long seed) {
        return new ToyRecipe(seed,
                new TrainingConfig("alignment", 12, 8, 2e-3, 2, 0.01, 0.9, 0.95, 1.0, ".*", seed),
                new TrainingConfig("finetune", 4, 8, 1e-3, 1, 0.0, 0.9, 0.95, 1.0, "model\\.layers\\.[34]\\.mlp\\..*", seed + 1),
                1);
    }

    @Test
    void buildsTheHuggingFaceLayoutReproducibly(@TempDir Path tmp) throws Exception {
        Path base = TestModels.stories260K();
        new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("a"));
        new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("b"));

        Path aligned = tmp.resolve("a/models/toy/aligned");
        Path finetuned = tmp.resolve("a/models/toy/finetuned");
        for (Path dir : List.of(aligned, finetuned)) {
            for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                    "generation_config.json", "toy-provenance.json", "LICENSE-tokenizer.txt")) {
                assertTrue(Files.isRegularFile(dir.resolve(f)), dir + "/" + f);
            }
        }
        for (String f : List.of("alignment-train", "finetune-train", "heldout-harmful", "heldout-borderline",
                "heldout-benign", "heldout-task")) {
            assertTrue(Files.size(tmp.resolve("a/data/toy/" + f + ".jsonl")) > 0, f);
        }
        ObjectMapper json = new ObjectMapper();
        assertEquals(ToyChatFormat.CHAT_TEMPLATE,
                json.readTree(aligned.resolve("tokenizer_config.json").toFile()).get("chat_template").asText());

        // Same seed and data: the same weights up to float rounding. Bit-identity is usual but not
        // guaranteed (a CI run saw last-bit differences between two builds in one JVM), so the
        // check is numeric.
        for (String m : List.of("aligned", "finetuned")) {
            try (Checkpoint x = Checkpoint.open(tmp.resolve("a/models/toy/" + m).toString(), new Configuration());
                    Checkpoint y = Checkpoint.open(tmp.resolve("b/models/toy/" + m).toString(), new Configuration())) {
                assertEquals(x.tensorNames(), y.tensorNames(), m);
                for (String name : x.tensorNames()) {
                    assertArrayEquals(x.readFloats(name), y.readFloats(name), 1e-4f, m + " " + name);
                }
            }
        }

        JsonNode prov = json.readTree(aligned.resolve("toy-provenance.json").toFile());
        JsonNode losses = prov.get("loss_curve");
        assertEquals(12, losses.size());
        assertTrue(losses.get(11).asDouble() < losses.get(0).asDouble(), "alignment loss did not fall: " + losses);
        assertEquals(ToyModelBuilder.sha256(Files.readAllBytes(tmp.resolve("a/data/toy/alignment-train.jsonl"))),
                prov.get("data_sha256").get("alignment-train.jsonl").asText());

        // The fine-tune trained only the later MLPs: every other tensor equals the aligned one.
        Map<String, ToySafetensors.Tensor> before = ToySafetensors.read(aligned.resolve("model.safetensors"));
        Map<String, ToySafetensors.Tensor> after = ToySafetensors.read(finetuned.resolve("model.safetensors"));
        assertEquals(before.keySet(), after.keySet());
        for (String name : before.keySet()) {
            boolean same = java.util.Arrays.equals(before.get(name).values(), after.get(name).values());
            assertEquals(!name.matches("model\\.layers\\.[34]\\.mlp\\..*"), same, name);
        }
        assertFalse(java.util.Arrays.equals(before.get("model.layers.4.mlp.up_proj.weight").values(),
                ToySafetensors.read(base.resolve("model.safetensors")).get("model.layers.4.mlp.up_proj.weight").values()));
    }
}
