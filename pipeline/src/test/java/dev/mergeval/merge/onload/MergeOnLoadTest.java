package dev.mergeval.merge.onload;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
                false, PlanOptions.defaults(), conf.toString());
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
                DjlLanguageModel onLoad = loadMerge("merge:" + conf + "#seed=7");
                DjlLanguageModel otherSeed = loadMerge("merge:" + conf)) {
            assertSameModel(onDisk, onLoad);
            String name = "model.layers.0.mlp.up_proj.weight";
            assertFalse(java.util.Arrays.equals(onLoad.parameters().get(name).toFloatArray(),
                    otherSeed.parameters().get(name).toFloatArray()), "DARE with seed 7 and seed 0 dropped the same entries");
        }
    }

    /** Every method of the demo grid, configured exactly as the sweep configures its points. */
    @ParameterizedTest
    @ValueSource(strings = {"linear", "slerp", "ties", "dare_linear"})
    void everyDemoMethodMergedOnLoadEqualsTheMaterializedPoint(String method) throws Exception {
        writeInputs();
        java.util.Map<String, Object> params = method.equals("ties") || method.equals("dare_linear")
                ? java.util.Map.of("density", 0.5) : java.util.Map.of();
        dev.mergeval.sweep.SweepPoint point = dev.mergeval.sweep.SweepPoint.merge(method, base.toString(),
                tuned.toString(), 0.3, params, 11, "test-suite");
        Path conf = tmp.resolve(method + ".yaml");
        Files.writeString(conf, point.toMergekitYaml());
        Path written = writeToDisk(conf, 11);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel onLoad = loadMerge("merge:" + conf + "#seed=11")) {
            assertSameModel(onDisk, onLoad);
        }
    }

    /**
     * A sweep point with the spec's {@code tokenizer_source} and {@code chat_template}: merged on
     * load equals the point written to disk, and both render a conversation with the template set,
     * which the point without them does not.
     */
    @Test
    void sweepPointWithMergeOptionsMergedOnLoadEqualsTheMaterializedPoint() throws Exception {
        writeInputs();
        dev.mergeval.sweep.SweepPoint point = dev.mergeval.sweep.SweepPoint.merge("linear", base.toString(),
                tuned.toString(), 0.3, java.util.Map.of(), 11, "test-suite",
                java.util.Map.of("tokenizer_source", "model:" + tuned, "chat_template", "chatml"));
        dev.mergeval.sweep.SweepPoint plain = dev.mergeval.sweep.SweepPoint.merge("linear", base.toString(),
                tuned.toString(), 0.3, java.util.Map.of(), 11, "test-suite");
        Path conf = tmp.resolve("options.yaml");
        Files.writeString(conf, point.toMergekitYaml());
        Path plainConf = tmp.resolve("plain.yaml");
        Files.writeString(plainConf, plain.toMergekitYaml());
        Path written = writeToDisk(conf, 11);
        List<dev.mergeval.runtime.ChatMessage> hello = List.of(dev.mergeval.runtime.ChatMessage.user("w3 w4"));
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel onLoad = loadMerge("merge:" + conf + "#seed=11");
                DjlLanguageModel without = loadMerge("merge:" + plainConf + "#seed=11")) {
            assertSameModel(onDisk, onLoad);
            assertSameModel(without, onLoad);
            assertEquals(onDisk.renderChat(hello, true), onLoad.renderChat(hello, true));
            assertTrue(onLoad.renderChat(hello, true).contains("<|im_start|>user"), onLoad.renderChat(hello, true));
            assertFalse(without.renderChat(hello, true).contains("<|im_start|>"), without.renderChat(hello, true));
        }
    }

    /**
     * The post-hoc methods, with their extra input given relative to the config and Safe LoRA's
     * plan-time analysis: merged on load equals written to disk, whether the load computes the
     * analysis or reads the one {@link dev.mergeval.source.ModelSources#prepare} kept beside the config.
     */
    @ParameterizedTest
    @ValueSource(strings = {"safe_lora", "resta"})
    void postHocMethodMergedOnLoadEqualsMergeWrittenToDisk(String method) throws Exception {
        writeInputs();
        TinyModels.write(tmp.resolve("unaligned"), TinyModels.llamaConfig(), DType.BF16, 3, Long.MAX_VALUE);
        String parameters = method.equals("safe_lora") ? "  num_proj_layers: 3\n" : "  scale: 0.3\n  density: 0.5\n";
        Path conf = tmp.resolve(method + ".yaml");
        Files.writeString(conf, "merge_method: " + method + "\nbase_model: " + base + "\nmodels:\n  - model: " + tuned
                + "\nparameters:\n  unaligned_model: unaligned\n" + parameters);
        Path written = writeToDisk(conf, 5);
        String source = "merge:" + conf + "#seed=5";
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel computed = loadMerge(source)) {
            assertSameModel(onDisk, computed);
        }
        ModelSources.prepare(ModelSource.parse(source, new Configuration()), new Configuration());
        Path kept = Path.of(conf + ".analysis");
        assertEquals(method.equals("safe_lora"), Files.exists(kept), "an analysis is kept only where there is one");
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel read = loadMerge(source)) {
            assertSameModel(onDisk, read);
        }
    }

    /** A kept analysis is what loads use, and only while the inputs are the ones it was made from. */
    @Test
    void keptAnalysisIsReadOnlyForTheSameInputs() throws Exception {
        writeInputs();
        TinyModels.write(tmp.resolve("unaligned"), TinyModels.llamaConfig(), DType.BF16, 3, Long.MAX_VALUE);
        Path conf = tmp.resolve("safe.yaml");
        Files.writeString(conf, "merge_method: safe_lora\nbase_model: " + base + "\nmodels:\n  - model: " + tuned
                + "\nparameters:\n  unaligned_model: unaligned\n  num_proj_layers: 20\n");
        String source = "merge:" + conf;
        ModelSources.prepare(ModelSource.parse(source, new Configuration()), new Configuration());
        String name = "model.layers.0.self_attn.q_proj.weight";
        float[] projected;
        try (DjlLanguageModel m = loadMerge(source)) {
            projected = m.parameters().get(name).toFloatArray();
        }
        // Replace the kept analysis by one that projects nothing, under the same key: loads obey it.
        dev.mergeval.merge.MergeConfig config = dev.mergeval.merge.MergeConfig.parse(Files.readString(conf),
                conf.toString(), conf.toString());
        try (dev.mergeval.merge.MergeInputs inputs = dev.mergeval.merge.MergeInputs.open(config, new Configuration())) {
            MergeAnalysisFile.write(MergeAnalysisFile.of(conf.toString()), MergeAnalysisFile.key(inputs, 0, new Configuration()),
                    new dev.mergeval.merge.PlanAnalysis(java.util.Map.of(), java.util.Map.of("note", "nothing projected")),
                    new Configuration());
        }
        float[] fineTune;
        try (DjlLanguageModel tunedModel = LanguageModels.loadDirectory(tuned.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel m = loadMerge(source)) {
            fineTune = tunedModel.parameters().get(name).toFloatArray();
            assertArrayEquals(fineTune, m.parameters().get(name).toFloatArray(), 0f, "the kept analysis was used");
        }
        assertFalse(java.util.Arrays.equals(fineTune, projected), "20 matrices projected, q of layer 0 among them");
        // New inputs (a rewritten unaligned model): the kept analysis no longer applies.
        Files.setLastModifiedTime(tmp.resolve("unaligned/model.safetensors"),
                java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 60_000));
        try (DjlLanguageModel m = loadMerge(source)) {
            assertArrayEquals(projected, m.parameters().get(name).toFloatArray(), 0f, "analysis made afresh");
        }
    }

    /** The analyses of every method survive the kept file; a file that is not an analysis is ignored. */
    @Test
    void keptAnalysisFileRoundTripsTheMethodsDecisionsOnly() throws Exception {
        Configuration conf = new Configuration();
        dev.mergeval.safety.SafetySubspace subspace = dev.mergeval.safety.SafetySubspace.of("t",
                new float[] {3, 0, 0, 1, 2, 5}, 2, 3, 1);
        java.util.Map<String, dev.mergeval.merge.TensorDecision> decisions = new java.util.LinkedHashMap<>();
        decisions.put("a", new dev.mergeval.merge.methods.SafeLoraMerge.Decision(0.5, true, null));
        decisions.put("b", new dev.mergeval.merge.methods.SafeLoraMerge.Decision(null, false, "no change"));
        decisions.put("c", new dev.mergeval.merge.methods.SpfProjectMerge.Decision(1.5, 0.9, 0.2, subspace));
        dev.mergeval.merge.PlanAnalysis analysis = new dev.mergeval.merge.PlanAnalysis(decisions,
                java.util.Map.of("threshold", 0.5, "targets", java.util.List.of("q_proj"), "count", 3));
        org.apache.hadoop.fs.Path file = MergeAnalysisFile.of(tmp.resolve("x.yaml").toString());
        MergeAnalysisFile.write(file, "key-1", analysis, conf);
        dev.mergeval.merge.PlanAnalysis read = MergeAnalysisFile.read(file, "key-1", conf);
        assertEquals(analysis.digest(), read.digest());
        var c = (dev.mergeval.merge.methods.SpfProjectMerge.Decision) read.decision("c");
        assertArrayEquals(subspace.u(), c.subspace().u(), 0f, "floats survive the text exactly");
        assertEquals(null, MergeAnalysisFile.read(file, "key-2", conf), "another key: not this analysis");
        Files.writeString(tmp.resolve("x.yaml.analysis"), "key-1\n{\"decisions\": {\"a\": {\"method\": \"java.text"
                + ".SimpleDateFormat\"}}, \"summary\": {}}");
        assertEquals(null, MergeAnalysisFile.read(file, "key-1", conf), "an unknown decision type is refused");
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
        Path written = writeToDisk(conf, KeyedRandom.DEFAULT_SEED);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                LanguageModel onLoad = loadMerge("merge:" + conf)) {
            assertSameModel(onDisk, (DjlLanguageModel) onLoad);
            assertTrue(onLoad.id().startsWith("merge:"));
        }
    }

    /**
     * A fine-tune with added tokens (more embedding rows than the base): merged on load over the
     * rows both have, with the config's {@code vocab_size} set to them, as written to disk.
     */
    @Test
    void aFineTuneWithAddedTokensMergedOnLoadEqualsTheMergeWrittenToDisk() throws Exception {
        writeInputs();
        Path added = TinyModels.write(tmp.resolve("added"), TinyModels.llamaConfig().put("vocab_size", 70),
                DType.BF16, 2, Long.MAX_VALUE);
        Path conf = tmp.resolve("added.yaml");
        Files.writeString(conf, "merge_method: ties\nbase_model: " + added + "\nmodels:\n  - model: " + base
                + "\n    parameters: {weight: 0.7, density: 0.5}\n");
        Path written = writeToDisk(conf, KeyedRandom.DEFAULT_SEED);
        try (DjlLanguageModel onDisk = LanguageModels.loadDirectory(written.toString(), new Configuration(), RuntimeOptions.cpu());
                DjlLanguageModel onLoad = loadMerge("merge:" + conf)) {
            assertEquals(64, onLoad.forward().config().vocabSize());
            assertSameModel(onDisk, onLoad);
        }
    }

    @Test
    void missingMergeConfigIsBadInput() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> ModelSource.parse("merge:" + tmp.resolve("none.yaml"), new Configuration()));
        assertTrue(e.getMessage().contains("none.yaml"), e.getMessage());
    }

    /** A merge-on-load source's text, parsed and loaded as the concrete model. */
    private static DjlLanguageModel loadMerge(String source) {
        Configuration conf = new Configuration();
        return (DjlLanguageModel) ModelSources.load(ModelSource.parse(source, conf), conf, RuntimeOptions.cpu());
    }
}
