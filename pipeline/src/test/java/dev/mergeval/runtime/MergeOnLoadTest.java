package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.TensorMerger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code merge:CONFIG.yaml} source equals the same merge written to disk (tensor by tensor with
 * the merge engine, stored in the output dtype) and loaded as a directory.
 */
class MergeOnLoadTest {

    @TempDir
    Path tmp;

    private Path base;
    private Path tuned;

    private void writeInputs() {
        base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.BF16, 1, Long.MAX_VALUE);
        tuned = TinyModels.write(tmp.resolve("tuned"), TinyModels.llamaConfig(), DType.F32, 2, 20_000);
    }

    /** The merge written to disk by hand: merged tensors in {@code outDtype}, base's side files copied. */
    private Path writeToDisk(String yaml, long seed, DType outDtype) throws Exception {
        MergeConfig config = MergeConfig.parse(yaml, "test.yaml");
        TensorMerger merger = TensorMerger.create(config, 2);
        Path out = tmp.resolve("written-" + seed);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint b = Checkpoint.open(base.toString(), new Configuration());
                Checkpoint t = Checkpoint.open(tuned.toString(), new Configuration())) {
            for (String name : b.tensorNames()) {
                Map<String, float[]> inputs = new LinkedHashMap<>();
                inputs.put(base.toString(), b.readFloats(name));
                inputs.put(tuned.toString(), t.readFloats(name));
                float[] merged = merger.merge(name, b.info(name).shape(), 0, inputs, seed);
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, outDtype, b.info(name).shape(), merged));
            }
        }
        SafetensorsWriter.write(FileSystem.getLocal(new Configuration()), new org.apache.hadoop.fs.Path(out.toUri()),
                tensors, Long.MAX_VALUE, Map.of());
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(base.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }

    private void assertSameModel(DjlLanguageModel expected, DjlLanguageModel actual) {
        assertEquals(expected.parameters().keySet(), actual.parameters().keySet());
        expected.parameters().forEach((name, array) ->
                assertArrayEquals(array.toFloatArray(), actual.parameters().get(name).toFloatArray(), 0f, name));
        List<String> prompts = List.of("w3 w4 w5", "w10 w20");
        assertEquals(expected.generate(prompts, GenerationParams.greedy(8)).stream().map(Completion::outputIds).toList(),
                actual.generate(prompts, GenerationParams.greedy(8)).stream().map(Completion::outputIds).toList());
    }

    @Test
    void daretiesMergeOnLoadEqualsMergeWrittenToDisk() throws Exception {
        writeInputs();
        String yaml = "models:\n"
                + "  - model: " + tuned + "\n"
                + "    parameters: {weight: 0.7, density: 0.5}\n"
                + "merge_method: dare_ties\n"
                + "base_model: " + base + "\n"
                + "out_dtype: bfloat16\n";
        Path conf = tmp.resolve("dare.yaml");
        Files.writeString(conf, yaml);
        Path written = writeToDisk(yaml, 7, DType.BF16);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel onLoad = LanguageModels.loadMerge("merge:" + conf + "#seed=7", new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel otherSeed = LanguageModels.loadMerge("merge:" + conf, new Configuration(), RuntimeOptions.cpu())) {
            assertSameModel(onDisk, onLoad);
            String name = "model.layers.0.mlp.up_proj.weight";
            assertFalse(java.util.Arrays.equals(onLoad.parameters().get(name).toFloatArray(),
                    otherSeed.parameters().get(name).toFloatArray()), "DARE with seed 7 and seed 0 dropped the same entries");
        }
    }

    @Test
    void linearMergeWithoutOutDtypeKeepsBaseDtype() throws Exception {
        writeInputs();
        String yaml = "models:\n"
                + "  - model: " + base + "\n"
                + "    parameters: {weight: 0.25}\n"
                + "  - model: " + tuned + "\n"
                + "    parameters: {weight: 0.75}\n"
                + "merge_method: linear\n";
        Path conf = tmp.resolve("linear.yaml");
        Files.writeString(conf, yaml);
        Path written = writeToDisk(yaml, LanguageModels.DEFAULT_MERGE_SEED, DType.BF16);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                LanguageModel onLoad = LanguageModels.load("merge:" + conf, new Configuration(), RuntimeOptions.cpu())) {
            assertSameModel(onDisk, (DjlLanguageModel) onLoad);
            assertTrue(onLoad.id().startsWith("merge:"));
        }
    }

    @Test
    void missingMergeConfigIsBadInput() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> LanguageModels.load("merge:" + tmp.resolve("none.yaml"), new Configuration(), RuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("none.yaml"), e.getMessage());
    }
}
