package dev.mergeval.toy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Sha256;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.provenance.ToyProvenance;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.train.TrainingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A few training steps through the whole build: layout, provenance, loss, bit-reproducibility. */
class ToyModelBuilderTest {

    private static ToyRecipe tiny(long seed) {
        return new ToyRecipe(seed,
                new TrainingConfig("alignment", 12, 8, 2e-3, 2, 0.01, 0.9, 0.95, 1.0, ".*", seed),
                new TrainingConfig("finetune", 4, 8, 1e-3, 1, 0.0, 0.9, 0.95, 1.0, "model\\.layers\\.[34]\\.mlp\\..*", seed + 1),
                new ToyRecipe.Spf(2, 4, 2),
                1);
    }

    @Test
    void buildsTheHuggingFaceLayoutReproducibly(@TempDir Path tmp) throws Exception {
        Path base = TestModels.stories260K();
        new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("a"));
        new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("b"));

        Path aligned = tmp.resolve("a/models/toy/aligned");
        Path finetuned = tmp.resolve("a/models/toy/finetuned");
        Path spf = tmp.resolve("a/models/toy/finetuned-spf");
        for (Path dir : List.of(aligned, finetuned, spf, tmp.resolve("a/models/toy/base"))) {
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

        // Same seed and data: the same bytes. (Training drifted between runs until the gradients stopped
        // reading scalars freed by the garbage collector: runtime.llama.TorchMemory.)
        for (String m : ToyModelBuilder.MODELS) {
            assertArrayEquals(Files.readAllBytes(tmp.resolve("a/models/toy/" + m + "/model.safetensors")),
                    Files.readAllBytes(tmp.resolve("b/models/toy/" + m + "/model.safetensors")), m);
        }

        JsonNode prov = json.readTree(aligned.resolve("toy-provenance.json").toFile());
        JsonNode losses = prov.get("loss_curve");
        assertEquals(12, losses.size());
        assertTrue(losses.get(11).asDouble() < losses.get(0).asDouble(), "alignment loss did not fall: " + losses);
        assertEquals(Sha256.of(Files.readAllBytes(tmp.resolve("a/data/toy/alignment-train.jsonl"))),
                prov.get("data_sha256").get("alignment-train.jsonl").asText());

        // The fine-tune trained only the later MLPs: every other tensor equals the aligned one.
        Map<String, float[]> before = weights(aligned.resolve("model.safetensors"));
        Map<String, float[]> after = weights(finetuned.resolve("model.safetensors"));
        assertEquals(before.keySet(), after.keySet());
        for (String name : before.keySet()) {
            boolean same = java.util.Arrays.equals(before.get(name), after.get(name));
            assertEquals(!name.matches("model\\.layers\\.[34]\\.mlp\\..*"), same, name);
        }
        assertFalse(java.util.Arrays.equals(before.get("model.layers.4.mlp.up_proj.weight"),
                weights(base.resolve("model.safetensors")).get("model.layers.4.mlp.up_proj.weight")));

        // The SPF fine-tune: the same run with SPF, so the same tensors train, and it projected some
        // conflicting steps, so it ends elsewhere; its safety samples are training harmful requests.
        Map<String, float[]> withSpf = weights(spf.resolve("model.safetensors"));
        boolean differs = false;
        for (String name : before.keySet()) {
            boolean same = java.util.Arrays.equals(before.get(name), withSpf.get(name));
            assertEquals(!name.matches("model\\.layers\\.[34]\\.mlp\\..*"), same, name);
            differs |= !java.util.Arrays.equals(after.get(name), withSpf.get(name));
        }
        assertTrue(differs, "SPF changed nothing");
        for (Path model : List.of(aligned, finetuned, spf, tmp.resolve("a/models/toy/base"))) {
            String text = Files.readString(model.resolve("toy-provenance.json"));
            ToyProvenance read = Provenance.read(text, ToyProvenance.class);
            assertEquals(text, read.toJson(), model + ": the record writes what it read");
            assertEquals(Environment.current(), read.environment());
        }
        JsonNode spfProv = json.readTree(spf.resolve("toy-provenance.json").toFile()).get("spf");
        assertEquals(4, spfProv.get("conflict_share").size());
        assertEquals(6, spfProv.get("matrices_guarded").asInt(), "layers 3 and 4, three MLP matrices each");
        assertEquals(2, spfProv.get("refreshes").size(), "before steps 0 and 2");
        assertTrue(spfProv.get("mean_conflict_share").asDouble() > 0, spfProv.toString());
        List<ChatExample> samples = ToyDatasets.readJsonl(tmp.resolve("a/data/toy/" + ToyModelBuilder.SPF_SAFETY_FILE));
        ToyDatasets data = ToyDatasets.readJsonlDir(tmp.resolve("a/data/toy"));
        assertEquals(2, samples.size());
        for (ChatExample e : samples) {
            assertEquals("harmful", e.kind());
            assertTrue(data.alignmentTrain().contains(e) && !data.heldOutHarmful().contains(e), e.toString());
        }

        // The base model is stories260K's weights unchanged, with its licence.
        Map<String, float[]> stories = weights(base.resolve("model.safetensors"));
        Map<String, float[]> written = weights(tmp.resolve("a/models/toy/base/model.safetensors"));
        assertEquals(stories.keySet(), written.keySet());
        stories.forEach((name, t) -> assertArrayEquals(t, written.get(name), name));
        assertTrue(Files.readString(tmp.resolve("a/models/toy/base/LICENSE")).contains("MIT"));

        // Only some models: the SPF fine-tune again from the aligned model on disk, nothing else touched;
        // replacing the one there is refused, before any training, unless asked for.
        byte[] alignedBytes = Files.readAllBytes(aligned.resolve("model.safetensors"));
        byte[] spfBytes = Files.readAllBytes(spf.resolve("model.safetensors"));
        Files.delete(finetuned.resolve("model.safetensors"));
        Files.writeString(spf.resolve("notes.txt"), "mine");
        BadInputException occupied = assertThrows(BadInputException.class, () -> new ToyModelBuilder(base, tiny(0), s -> { })
                .build(tmp.resolve("a"), List.of("finetuned-spf"), false));
        assertTrue(occupied.getMessage().contains(spf + " exists; pass --overwrite"), occupied.getMessage());
        assertTrue(Files.isRegularFile(spf.resolve("notes.txt")));
        BadInputException otherData = assertThrows(BadInputException.class, () -> new ToyModelBuilder(base, tiny(1), s -> { })
                .build(tmp.resolve("a"), List.of(), false), "another seed's datasets over these");
        assertTrue(otherData.getMessage().contains(tmp.resolve("a/data/toy/alignment-train.jsonl").toString()),
                otherData.getMessage());
        new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("a"), List.of(), false);
        try (var left = Files.list(tmp.resolve("a"))) {
            assertEquals(List.of("data", "models"), left.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no staging directory is left behind");
        }
        ToyModelBuilder.Result only = new ToyModelBuilder(base, tiny(0), s -> { })
                .build(tmp.resolve("a"), List.of("finetuned-spf"), true);
        assertArrayEquals(spfBytes, Files.readAllBytes(spf.resolve("model.safetensors")), "same seed, same bytes");
        assertFalse(Files.exists(spf.resolve("notes.txt")), "the model directory is replaced whole");
        assertEquals(List.of("finetuned-spf"), List.copyOf(only.scores().keySet()));
        assertArrayEquals(alignedBytes, Files.readAllBytes(aligned.resolve("model.safetensors")));
        assertFalse(Files.exists(finetuned.resolve("model.safetensors")));
        assertTrue(Files.isRegularFile(spf.resolve("model.safetensors")));
        assertThrows(BadInputException.class,
                () -> new ToyModelBuilder(base, tiny(0), s -> { }).build(tmp.resolve("c"), List.of("finetuned"), false));
    }

    /** Every tensor of a safetensors file as floats, by name. */
    private static Map<String, float[]> weights(Path file) {
        Map<String, float[]> out = new TreeMap<>();
        try (Checkpoint c = Checkpoint.open(file.toUri().toString(), new Configuration())) {
            for (String name : c.tensorNames()) {
                out.put(name, c.readFloats(name));
            }
        }
        return out;
    }
}
