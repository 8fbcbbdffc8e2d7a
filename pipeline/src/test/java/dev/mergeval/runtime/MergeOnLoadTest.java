package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code merge:CONFIG.yaml} source equals the same merge written to disk by {@code mergeval
 * merge}'s {@link MergeJob} and loaded as a directory: same parameters, bit for bit.
 */
class MergeOnLoadTest {

    @TempDir
    Path tmp;

    private Path base;
    private Path tuned;

    private void writeInputs() {
        base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.BF16, 1, Long.MAX_VALUE);
        tuned = TinyModels.write(tmp.resolve("tuned"), TinyModels.llamaConfig(), DType.BF16, 2, 20_000);
    }

    /** The same merge written to disk by {@code mergeval merge}'s job (local executor). */
    private Path writeToDisk(Path conf, long seed) throws Exception {
        Path out = tmp.resolve("written-" + seed);
        MergeJob.Request request = new MergeJob.Request(conf.toString(), Files.readString(conf), out.toString(), seed,
                false, PlanOptions.defaults());
        Configuration hadoop = new Configuration();
        MergeJob.run(request, new LocalMergeExecutor(1, hadoop, Progress.NONE), hadoop);
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
        Path written = writeToDisk(conf, 7);
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
        Path written = writeToDisk(conf, LanguageModels.DEFAULT_MERGE_SEED);
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
