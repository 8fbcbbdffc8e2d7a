package dev.mergeval.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.FineTuneProvenance;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mergeval finetune}'s job on the committed toy model and a slice of the toy task data. */
class FineTuneJobTest {

    private static final List<String> PROJECTIONS = LoraConfig.LLAMA_PROJECTIONS;

    private static Path root;

    @BeforeAll
    static void locate() {
        root = TestModels.projectRoot();
    }

    static String aligned() {
        return root.resolve("models/toy/aligned").toString();
    }

    /** A copy of the toy aligned model's files in {@code dir}. */
    static Path copyOfAligned(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (var files = Files.list(Path.of(aligned()))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    /** The first {@code n} lines of a committed toy split. */
    static Path slice(Path dir, String split, int n) throws IOException {
        Path file = dir.resolve(split + "-" + n + ".jsonl");
        Files.write(file, Files.readAllLines(root.resolve("data/toy/" + split + ".jsonl")).subList(0, n));
        return file;
    }

    private static FineTuneRequest lora(Path data, Path out, int steps, long seed, Path safety) {
        return new FineTuneRequest(aligned(), data.toString(), out.toString(), false, 8, 16, PROJECTIONS, steps, null,
                5e-3, 8, 2, seed, "cpu", false, safety == null ? null : safety.toString(), null, null, 10);
    }

    @Test
    void loraLossFallsAndTheAdapterIsTheMergedWeightsAsBasePlusAdapter(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 16);
        Path out = tmp.resolve("adapter");
        FineTuneJob.Outcome o = FineTuneJob.run(lora(data, out, 40, 3, null), new Configuration(), Progress.NONE, s -> { });
        List<Double> losses = o.run().losses();
        assertEquals(40, losses.size());
        double first = losses.subList(0, 5).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);

        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
        assertEquals(8, cfg.get("r").asInt());
        assertEquals(16, cfg.get("lora_alpha").asInt());
        assertEquals("none", cfg.get("bias").asText());
        assertFalse(cfg.get("fan_in_fan_out").asBoolean());
        assertEquals(0.0, cfg.get("lora_dropout").asDouble());
        assertEquals(aligned(), cfg.get("base_model_name_or_path").asText());
        assertEquals(PROJECTIONS, new ObjectMapper().convertValue(cfg.get("target_modules"), List.class));

        Configuration conf = new Configuration();
        try (Checkpoint base = Checkpoint.open(aligned(), conf);
                Checkpoint adapter = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf);
                Checkpoint merged = Checkpoint.open(aligned() + "+" + out, conf)) {
            assertEquals(5 * 7 * 2, adapter.tensorNames().size());
            int changed = 0;
            for (String name : base.tensorNames()) {
                float[] w = base.readFloats(name);
                float[] m = merged.readFloats(name);
                if (!name.matches("model\\.layers\\.\\d+\\.(self_attn|mlp)\\.\\w+_proj\\.weight")) {
                    assertArrayEquals(w, m, name + " is not adapted");
                    continue;
                }
                String module = "base_model.model." + name.substring(0, name.length() - ".weight".length());
                long[] shape = base.info(name).shape();
                assertArrayEquals(new long[] {8, shape[1]}, adapter.info(module + ".lora_A.weight").shape(), module);
                assertArrayEquals(new long[] {shape[0], 8}, adapter.info(module + ".lora_B.weight").shape(), module);
                float[] a = adapter.readFloats(module + ".lora_A.weight");
                float[] b = adapter.readFloats(module + ".lora_B.weight");
                int rows = (int) shape[0];
                int cols = (int) shape[1];
                double maxDiff = 0;
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        double ba = 0;
                        for (int k = 0; k < 8; k++) {
                            ba += (double) b[i * 8 + k] * a[k * cols + j];
                        }
                        maxDiff = Math.max(maxDiff, Math.abs(w[i * cols + j] + 2.0 * ba - m[i * cols + j]));
                    }
                }
                assertTrue(maxDiff < 1e-6, name + ": BASE+ADAPTER differs from W + (16/8) B A by " + maxDiff);
                changed += java.util.Arrays.equals(w, m) ? 0 : 1;
            }
            assertEquals(35, changed, "every adapted matrix moved");
        }
        try (LanguageModel lm = ModelSources.load(ModelSource.parse(aligned() + "+" + out, conf), conf,
                RuntimeOptions.cpu())) {
            assertTrue(lm.id().endsWith(out.toString()));
        }
        JsonNode prov = new ObjectMapper().readTree(out.resolve("mergeval_provenance.json").toFile());
        assertEquals(40, prov.get("loss_curve").size());
        assertEquals(dev.mergeval.checkpoint.HadoopFs.sha256(data.toString(), conf), prov.get("data_sha256").asText());
        assertEquals(5e-3, prov.get("hyperparameters").get("learning_rate").asDouble());
        String text = Files.readString(out.resolve("mergeval_provenance.json"));
        FineTuneProvenance read = Provenance.read(text, FineTuneProvenance.class);
        assertEquals(text, read.toJson(), "the record writes what it read");
        assertTrue(read.environment().djlVersion().startsWith("0."), text);
        assertEquals(Environment.current(), read.environment());
        assertEquals(prov.get("loss_curve").size(), read.lossCurve().size());
    }

    @Test
    void theSameSeedGivesTheSameAdapterBytesAndAnotherSeedOtherBytes(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 16);
        Path safety = spfSamples(tmp);
        Configuration conf = new Configuration();
        for (String run : List.of("a", "b")) {
            FineTuneJob.run(lora(data, tmp.resolve(run), 6, 7, safety), conf, Progress.NONE, s -> { });
        }
        FineTuneJob.run(lora(data, tmp.resolve("c"), 6, 8, safety), conf, Progress.NONE, s -> { });
        byte[] a = Files.readAllBytes(tmp.resolve("a/adapter_model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(tmp.resolve("b/adapter_model.safetensors")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(tmp.resolve("c/adapter_model.safetensors"))));
    }

    /** An output over the model being tuned would replace it: refused before any step, even with --overwrite. */
    @Test
    void anOutputOverTheModelIsRefused(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 4);
        Path model = copyOfAligned(tmp.resolve("model"));
        byte[] before = Files.readAllBytes(model.resolve("model.safetensors"));
        FineTuneRequest r = new FineTuneRequest(model.toString(), data.toString(), model.toString(), false, 8, 16,
                PROJECTIONS, 1, null, 5e-3, 8, 2, 7, "cpu", true, null, null, null, 10);
        BadInputException e = assertThrows(BadInputException.class,
                () -> FineTuneJob.run(r, new Configuration(), Progress.NONE, s -> { }));
        assertTrue(e.getMessage().contains("which this job reads (--model)"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(model.resolve("model.safetensors")));

        // Nor over the training data, read before the run but deleted by the publish.
        Path project = tmp.resolve("project");
        Files.createDirectories(project);
        Path kept = Files.copy(data, project.resolve("train.jsonl"));
        FineTuneRequest over = new FineTuneRequest(aligned(), kept.toString(), project.toString(), true, 8, 16,
                PROJECTIONS, 1, null, 5e-3, 8, 2, 7, "cpu", true, null, null, null, 10);
        e = assertThrows(BadInputException.class, () -> FineTuneJob.run(over, new Configuration(), Progress.NONE, s -> { }));
        assertTrue(e.getMessage().contains("which this job reads (--data)"), e.getMessage());
        assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(kept));
    }

    /** Tuning BASE+ADAPTER into the adapter's own folder would delete that input: refused, even with --overwrite. */
    @Test
    void anOutputOverTheAdapterBeingTunedIsRefused(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 8);
        Path adapter = tmp.resolve("adapter");
        FineTuneJob.run(lora(data, adapter, 3, 7, null), new Configuration(), Progress.NONE, s -> { });
        byte[] before = Files.readAllBytes(adapter.resolve("adapter_model.safetensors"));
        FineTuneRequest again = new FineTuneRequest(aligned() + "+" + adapter, data.toString(), adapter.toString(),
                false, 8, 16, PROJECTIONS, 3, null, 5e-3, 8, 2, 7, "cpu", true, null, null, null, 10);
        BadInputException e = assertThrows(BadInputException.class,
                () -> FineTuneJob.run(again, new Configuration(), Progress.NONE, s -> { }));
        assertTrue(e.getMessage().contains("which this job reads (--model)"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(adapter.resolve("adapter_model.safetensors")));
    }

    /** A GPU this machine lacks is bad input naming the device as written, not PyTorch's backend dump. */
    @Test
    void aDeviceThisMachineLacksIsBadInput(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 8);
        FineTuneRequest r = new FineTuneRequest(aligned(), data.toString(), tmp.resolve("out").toString(), false, 8,
                16, PROJECTIONS, 3, null, 5e-3, 8, 2, 7, "cuda:99", false, null, null, null, 10);
        BadInputException e = assertThrows(BadInputException.class,
                () -> FineTuneJob.run(r, new Configuration(), Progress.NONE, s -> { }));
        assertTrue(e.getMessage().startsWith("device cuda:99: PyTorch cannot use it on this machine"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    /**
     * A loss that is not finite (here from a weight so large that the activations overflow; a NaN
     * weight is refused at load) stops the run: no adapter of NaNs is published.
     */
    @Test
    void aLossThatIsNotFiniteWritesNothing(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 4);
        Path model = copyOfAligned(tmp.resolve("nan-model"));
        String tensor = "model.layers.1.mlp.down_proj.weight";
        long begin;
        try (Checkpoint c = Checkpoint.open(model.toString(), new Configuration())) {
            assertEquals(dev.mergeval.checkpoint.DType.F32, c.info(tensor).dtype());
            begin = c.info(tensor).begin();
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(model.resolve("model.safetensors"),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(length, 0);
            java.nio.ByteBuffer huge = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putFloat(0, 3e38f);
            ch.write(huge, 8 + length.getLong(0) + begin);
        }
        Path out = tmp.resolve("out");
        FineTuneRequest r = new FineTuneRequest(model.toString(), data.toString(), out.toString(), false, 8, 16,
                PROJECTIONS, 2, null, 5e-3, 4, 0, 7, "cpu", false, null, null, null, 10);
        BadInputException e = assertThrows(BadInputException.class,
                () -> FineTuneJob.run(r, new Configuration(), Progress.NONE, s -> { }));
        assertTrue(e.getMessage().matches("step \\d+: the loss is (NaN|-?Infinity): .*"), e.getMessage());
        assertFalse(Files.exists(out), "nothing published");
    }

    @Test
    void fullWritesAModelDirectoryWithOnlyTheTargetsTrained(@TempDir Path tmp) throws IOException {
        Path data = slice(tmp, "finetune-train", 16);
        Path out = tmp.resolve("full");
        FineTuneRequest r = new FineTuneRequest(aligned(), data.toString(), out.toString(), true, 8, 16,
                List.of("down_proj"), 3, null, 1e-3, 8, null, 0, "cpu", false, null, null, null, 10);
        FineTuneJob.run(r, new Configuration(), Progress.NONE, s -> { });
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                "model.safetensors", "mergeval_provenance.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        Configuration conf = new Configuration();
        try (Checkpoint before = Checkpoint.open(aligned(), conf); Checkpoint after = Checkpoint.open(out.toString(), conf)) {
            assertEquals(before.tensorNames().size(), after.tensorNames().size());
            for (String name : before.tensorNames()) {
                boolean same = java.util.Arrays.equals(before.readFloats(name), after.readFloats(name));
                assertEquals(!name.endsWith("mlp.down_proj.weight"), same, name);
            }
        }
        ModelSources.check(ModelSource.parse(out.toString(), conf), conf);
    }

    @Test
    void stepsWarmUpAndLearningRateDefaultFromTheData() {
        FineTuneRequest epochs = new FineTuneRequest("m", "d", "o", false, 8, 16, PROJECTIONS, null, 2.5, null, 8, null,
                0, "cpu", false, null, null, null, 10);
        TrainingConfig t = FineTuneJob.trainingConfig(epochs, 100);
        assertEquals(32, t.steps(), "ceil(2.5 * 100 / 8)");
        assertEquals(3, t.warmupSteps(), "10% of the steps");
        assertEquals(FineTuneRequest.LORA_LEARNING_RATE, t.learningRate());
        FineTuneRequest full = new FineTuneRequest("m", "d", "o", true, 8, 16, List.of("down_proj"), null, null, null, 8,
                null, 0, "cpu", false, null, null, null, 10);
        TrainingConfig f = FineTuneJob.trainingConfig(full, 20);
        assertEquals(3, f.steps(), "one epoch");
        assertEquals(FineTuneRequest.FULL_LEARNING_RATE, f.learningRate());
        assertTrue(f.trains("model.layers.3.mlp.down_proj.weight"));
        assertFalse(f.trains("model.layers.3.mlp.up_proj.weight") || f.trains("model.layers.3.mlp.down_proj.bias"));
        FineTuneRequest warm = new FineTuneRequest("m", "d", "o", false, 8, 16, PROJECTIONS, 5, null, null, 8, 5, 0,
                "cpu", false, null, null, null, 10);
        BadInputException e = assertThrows(
                BadInputException.class, () -> FineTuneJob.trainingConfig(warm, 100));
        assertTrue(e.getMessage().startsWith("--warmup 5"), e.getMessage());
    }

    @Test
    void aModuleNamedTwiceIsOneTarget() {
        FineTuneRequest r = new FineTuneRequest("m", "d", "o", false, 8, 16,
                List.of("q_proj", "v_proj", "q_proj"), 5, null, null, 8, null, 0, "cpu", false, null, null, null, 10);
        assertEquals(List.of("q_proj", "v_proj"), r.targetModules());
    }

    /** The first 8 harmful requests of the alignment training data, with their refusal. */
    static Path spfSamples(Path dir) throws IOException {
        Path file = dir.resolve("safety.jsonl");
        Files.write(file, Files.readAllLines(root.resolve("data/toy/alignment-train.jsonl")).stream()
                .filter(l -> l.contains("\"kind\":\"harmful\"")).limit(8).toList());
        return file;
    }
}
