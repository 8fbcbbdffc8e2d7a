package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.ShardLayout;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.checkpoint.WrittenOver;
import dev.mergeval.common.Sha256;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.lora.LocalExtractExecutor;
import dev.mergeval.lora.LoraExtraction;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.ModelCard;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.MergeProvenance;
import dev.mergeval.provenance.Provenance;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plan, execute and commit on real safetensors files written by the test. */
class MergeJobTest {

    private static final Configuration CONF = new Configuration();
    private static final SyntheticModels.Shape SHAPE = SyntheticModels.Shape.tiny();

    @TempDir
    static Path models;

    static String base;
    static String tuneA;
    static String tuneB;

    @BeforeAll
    static void writeModels() {
        base = models.resolve("base").toString();
        tuneA = models.resolve("tune-a").toString();
        tuneB = models.resolve("tune-b").toString();
        SyntheticModels.writeBase(base, SHAPE, DType.F32, 1, 1 << 20, CONF);
        SyntheticModels.writeFineTune(tuneA, SHAPE, DType.F32, 1, 2, 0.01, 1 << 20, CONF);
        SyntheticModels.writeFineTune(tuneB, SHAPE, DType.F32, 1, 3, 0.01, 1 << 20, CONF);
    }

    @Test
    void linearMergeEqualsTheWeightedMeanOfTheInputs(@TempDir Path out) {
        String yaml = """
                merge_method: linear
                models:
                  - model: %s
                    parameters: {weight: 0.3}
                  - model: %s
                    parameters: {weight: 0.9}
                dtype: float32
                """.formatted(base, tuneA);
        Path dir = out.resolve("merged");
        MergeJob.run(request(yaml, dir, false, PlanOptions.defaults()), executor(2), CONF);
        try (Checkpoint b = Checkpoint.open(base, CONF); Checkpoint a = Checkpoint.open(tuneA, CONF);
                Checkpoint m = Checkpoint.open(dir.toString(), CONF)) {
            assertEquals(b.tensorNames(), m.tensorNames());
            for (String name : b.tensorNames()) {
                float[] x = b.readFloats(name);
                float[] y = a.readFloats(name);
                float[] z = m.readFloats(name);
                for (int i = 0; i < x.length; i++) {
                    double expected = (0.3 * x[i] + 0.9 * y[i]) / 1.2;
                    assertEquals(expected, z[i], 1e-6 * Math.max(1, Math.abs(expected)), name + "[" + i + "]");
                }
            }
        }
        assertTrue(Files.exists(dir.resolve("config.json")));
        assertTrue(Files.exists(dir.resolve(OutputPublisher.PROVENANCE_FILE)));
        assertTrue(Files.exists(dir.resolve(MergeJob.CONFIG_FILE)));
    }

    @Test
    void outputBytesDoNotDependOnThreadsUnitsOrChunks(@TempDir Path out) throws IOException {
        for (String method : List.of("dare_ties", "ties", "linear", "slerp")) {
            String yaml = method.equals("slerp") ? """
                    merge_method: slerp
                    base_model: %s
                    models:
                      - model: %s
                      - model: %s
                    parameters: {t: 0.4}
                    """.formatted(base, base, tuneA) : twoTunesBf16(method);
            Path one = out.resolve(method + "-1");
            Path many = out.resolve(method + "-many");
            Path sharded = out.resolve(method + "-sharded");
            MergeJob.run(request(yaml, one, false, PlanOptions.defaults()), executor(1), CONF);
            PlanOptions small = new PlanOptions(PlanOptions.DEFAULT_MAX_SHARD_BYTES, 700, 7);
            MergeJob.run(request(yaml, many, false, small), executor(3), CONF);
            MergeJob.run(request(yaml, sharded, false, new PlanOptions(3_000, 1_000, 5)), executor(2), CONF);
            assertEquals(shardHashes(one, false), shardHashes(many, false), method);
            assertTrue(shardHashes(sharded, false).size() > 1);
            assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
            try (Checkpoint a = Checkpoint.open(one.toString(), CONF);
                    Checkpoint b = Checkpoint.open(sharded.toString(), CONF)) {
                assertEquals(a.tensorNames(), b.tensorNames());
                for (String name : a.tensorNames()) {
                    assertArrayEquals(a.readFloats(name), b.readFloats(name), method + " " + name);
                }
            }
        }
    }

    @Test
    void dareDependsOnTheSeed(@TempDir Path out) throws IOException {
        String yaml = """
                merge_method: dare_linear
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 1.0, density: 0.5}
                """.formatted(base, tuneA);
        MergeJob.run(new MergeJob.Request("t.yaml", yaml, out.resolve("s1").toString(), 1, false, PlanOptions.defaults()),
                executor(2), CONF);
        MergeJob.run(new MergeJob.Request("t.yaml", yaml, out.resolve("s2").toString(), 2, false, PlanOptions.defaults()),
                executor(2), CONF);
        assertNotEquals(shardHashes(out.resolve("s1"), false), shardHashes(out.resolve("s2"), false));
    }

    @Test
    void anExistingOutputIsKeptUnlessOverwriteIsGiven(@TempDir Path out) throws IOException {
        String yaml = linearOf(base, tuneA, 0.5);
        Path dir = out.resolve("merged");
        MergeJob.run(request(yaml, dir, false, PlanOptions.defaults()), executor(1), CONF);
        Map<String, String> before = shardHashes(dir, true);
        String other = linearOf(base, tuneA, 0.9);
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(other, dir, false, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(e.getMessage().contains("overwrite"), e.getMessage());
        assertEquals(before, shardHashes(dir, true));
        MergeJob.run(request(other, dir, true, PlanOptions.defaults()), executor(1), CONF);
        assertNotEquals(before.get("model.safetensors"), shardHashes(dir, true).get("model.safetensors"));

        // A file is someone's, not an output: kept even with --overwrite.
        Path notes = Files.writeString(out.resolve("notes.txt"), "mine\n");
        e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(other, notes, true, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(e.getMessage().endsWith(": output location is a file, not a directory"), e.getMessage());
        assertEquals("mine\n", Files.readString(notes));
    }

    @Test
    void aKilledRunPublishesNothingAndTheRerunReusesFinishedUnits(@TempDir Path out) throws IOException {
        killAndResume(CONF, out, false);
    }

    @Test
    void aKilledRunWithPartFilesResumesToo(@TempDir Path out) throws IOException {
        killAndResume(partsOnly(), out, false);
    }

    @Test
    void anInPlaceUnitWithoutItsMarkerIsWrittenAgain(@TempDir Path out) throws IOException {
        killAndResume(CONF, out, true);
    }

    @Test
    void inPlaceAndPartFilesWriteTheSameBytes(@TempDir Path out) throws IOException {
        for (String method : List.of("linear", "ties", "dare_ties")) {
            String yaml = twoTunesBf16(method);
            PlanOptions sharded = new PlanOptions(3_000, 1_000, 5);
            Path inPlace = out.resolve(method + "-in-place");
            Path parts = out.resolve(method + "-parts");
            MergeJob.Outcome a = MergeJob.run(request(yaml, inPlace, false, sharded), executor(3), CONF);
            Configuration off = partsOnly();
            MergeJob.Outcome b = MergeJob.run(request(yaml, parts, false, sharded),
                    new LocalMergeExecutor(2, off, Progress.NONE), off);
            assertTrue(a.phaseMillis().containsKey("hash_outputs"), "in place: " + a.phaseMillis());
            assertTrue(b.phaseMillis().containsKey("assemble"), "part files: " + b.phaseMillis());
            assertTrue(shardHashes(inPlace, false).size() > 1);
            assertEquals(shardHashes(parts, true).keySet(), shardHashes(inPlace, true).keySet(),
                    "same files, no .crc or leftover parts");
            assertEquals(shardHashes(parts, false), shardHashes(inPlace, false), method);
            assertEquals(Files.readString(parts.resolve("model.safetensors.index.json")),
                    Files.readString(inPlace.resolve("model.safetensors.index.json")));
            assertEquals(a.shards(), b.shards(), "provenance hashes of the shards");
        }
    }

    /**
     * Kills a job after three units, checks nothing is published, re-runs it and checks that the
     * three finished units were reused and the bytes equal an undisturbed run. With
     * {@code tearFirstUnit}, the first unit's bytes are scribbled over and its completion marker
     * removed before the re-run, as when a unit dies half-written: it must be written again.
     */
    private static void killAndResume(Configuration conf, Path out, boolean tearFirstUnit) throws IOException {
        String yaml = linearOf(base, tuneA, 0.5);
        Path dir = out.resolve("merged");
        PlanOptions small = PlanOptions.defaults().withMaxUnitBytes(2_000);
        AtomicInteger done = new AtomicInteger();
        MergeExecutor dying = new FailingAfter(3, done, conf);
        assertThrows(IllegalStateException.class,
                () -> MergeJob.run(request(yaml, dir, false, small), dying, conf));
        assertFalse(Files.exists(dir), "nothing published after a failure");
        if (tearFirstUnit) {
            tearFirstUnit(MergeJob.plan(request(yaml, dir, false, small), conf), out);
        }

        List<UnitResult> seen = new ArrayList<>();
        MergeJob.run(request(yaml, dir, false, small), recording(new LocalMergeExecutor(1, conf, Progress.NONE), seen),
                conf);
        assertEquals(tearFirstUnit ? 2 : 3, seen.stream().filter(UnitResult::reused).count());
        assertTrue(seen.size() > 3);
        assertFalse(seen.get(0).reused() && tearFirstUnit);

        Path fresh = out.resolve("fresh");
        MergeJob.run(request(yaml, fresh, false, small), executor(2), CONF);
        assertEquals(shardHashes(fresh, false), shardHashes(dir, false));
    }

    /**
     * A killed run's finished units were computed from its inputs as they were then: where an
     * input has been written again before the rerun, the rerun starts over, and its output is the
     * new version's merge.
     */
    @Test
    void aRerunAfterAnInputChangedReusesNothing(@TempDir Path out) throws IOException {
        Path copy = out.resolve("tune");
        org.apache.commons.io.FileUtils.copyDirectory(Path.of(tuneA).toFile(), copy.toFile());
        String yaml = linearOf(base, copy.toString(), 0.5);
        Path dir = out.resolve("merged");
        PlanOptions small = PlanOptions.defaults().withMaxUnitBytes(2_000);
        assertThrows(IllegalStateException.class,
                () -> MergeJob.run(request(yaml, dir, false, small), new FailingAfter(3, new AtomicInteger(), CONF), CONF));
        Path shard;
        try (Stream<Path> files = Files.list(copy)) {
            shard = files.filter(f -> f.toString().endsWith(".safetensors")).sorted().findFirst().orElseThrow();
        }
        WrittenOver.writeOver(shard);
        List<UnitResult> seen = new ArrayList<>();
        MergeJob.run(request(yaml, dir, false, small), recording(executor(1), seen), CONF);
        assertTrue(seen.size() > 3 && seen.stream().noneMatch(UnitResult::reused), "every unit written again");
        Path fresh = out.resolve("fresh");
        MergeJob.run(request(yaml, fresh, false, small), executor(2), CONF);
        assertEquals(shardHashes(fresh, false), shardHashes(dir, false), "the new version's merge");
    }

    /**
     * An adapter's {@code adapter_config.json} sets the scale its weights read with: a rerun after it
     * changed (a new {@code lora_alpha}) reuses none of the killed run's units, which were computed
     * with the old scale, and gives the new config's merge.
     */
    @Test
    void aRerunAfterAnAdapterConfigChangedReusesNothing(@TempDir Path out) throws IOException {
        Path adapter = qProjAdapter(out.resolve("adapter"), base, 0.25f, 0.5f);
        String config = "{\"peft_type\": \"LORA\", \"r\": 1, \"lora_alpha\": %s, \"target_modules\": [\"q_proj\"]}";
        String yaml = linearOf(base, base + "+" + adapter, 0.5);
        Path dir = out.resolve("merged");
        PlanOptions small = PlanOptions.defaults().withMaxUnitBytes(2_000);
        assertThrows(IllegalStateException.class,
                () -> MergeJob.run(request(yaml, dir, false, small), new FailingAfter(3, new AtomicInteger(), CONF), CONF));
        Files.writeString(adapter.resolve("adapter_config.json"), String.format(config, "4"));
        List<UnitResult> seen = new ArrayList<>();
        MergeJob.run(request(yaml, dir, false, small), recording(executor(1), seen), CONF);
        assertTrue(seen.size() > 3 && seen.stream().noneMatch(UnitResult::reused), "every unit written again");
        Path fresh = out.resolve("fresh");
        MergeJob.run(request(yaml, fresh, false, small), executor(2), CONF);
        assertEquals(shardHashes(fresh, false), shardHashes(dir, false), "the new config's merge");
    }

    /** Overwrites unit 0's bytes in the staged shard with 0x5A and deletes its completion marker. */
    private static void tearFirstUnit(MergePlan plan, Path out) throws IOException {
        Path staging;
        try (Stream<Path> s = Files.list(out)) {
            staging = s.filter(p -> p.getFileName().toString().startsWith(".merged.mergeval-staging-"))
                    .findFirst().orElseThrow();
        }
        WorkUnit first = plan.units().get(0);
        Path marker = staging.resolve("_parts").resolve(String.format("unit-%06d.done", first.id()));
        assertTrue(Files.exists(marker), "unit 0 finished before the kill");
        Files.delete(marker);
        dev.mergeval.checkpoint.ShardLayout layout = MergeCommitter.layout(plan);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
                staging.resolve(layout.shards().get(0).fileName()), java.nio.file.StandardOpenOption.WRITE)) {
            for (TensorSlice slice : first.slices()) {
                dev.mergeval.checkpoint.ShardLayout.Placement p = layout.placement(slice.tensor());
                int size = p.info().dtype().byteSize();
                byte[] junk = new byte[(int) (slice.elementCount() * size)];
                java.util.Arrays.fill(junk, (byte) 0x5A);
                ch.write(java.nio.ByteBuffer.wrap(junk),
                        p.shard().dataOffset() + p.info().begin() + slice.elementOffset() * size);
            }
        }
    }

    private static Configuration partsOnly() {
        Configuration conf = new Configuration();
        conf.setBoolean(InPlaceShards.ENABLED_KEY, false);
        return conf;
    }

    @Test
    void incompatibleInputsAreListedInOneError(@TempDir Path out) {
        String other = out.resolve("other").toString();
        SyntheticModels.Shape wider = new SyntheticModels.Shape(3, 24, 32, 4, 2, 80);
        SyntheticModels.writeBase(other, wider, DType.F16, 1, 1 << 20, CONF);
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(linearOf(base, other, 0.5), out.resolve("m"), false, PlanOptions.defaults()),
                        executor(1), CONF));
        assertTrue(e.getMessage().contains("model.embed_tokens.weight hidden size differs: [80, 24] vs [64, 16]"),
                e.getMessage());
        assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj.weight shape differs: [32, 24] vs [32, 16]"),
                e.getMessage());
        assertTrue(e.getMessage().contains("has extra tensor model.layers.2."), e.getMessage());
        assertFalse(e.getMessage().contains("dtype differs"), "F16 and F32 merge together: " + e.getMessage());
    }

    /**
     * A copy of model {@code from} in {@code to}: its tensors as {@code edit} rewrites them (from the
     * model and its tensors in order, to the tensors written), its {@code config.json} with
     * {@code tie_word_embeddings} set to {@code tied}.
     */
    private static String rewritten(String from, Path to, boolean tied,
            java.util.function.BiFunction<Checkpoint, List<SafetensorsWriter.TensorData>,
                    List<SafetensorsWriter.TensorData>> edit) throws IOException {
        Files.createDirectories(to);
        try (Checkpoint c = Checkpoint.open(from, CONF)) {
            List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
            for (String name : c.tensorNames()) {
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, c.info(name).dtype(), c.info(name).shape(),
                        c.readFloats(name)));
            }
            SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(to.resolve("model.safetensors")),
                    edit.apply(c, tensors), Map.of("format", "pt"));
            Files.writeString(to.resolve("config.json"), c.config().deepCopy().put("tie_word_embeddings", tied)
                    .toPrettyString());
        }
        return to.toString();
    }

    private static void assertSameTensors(Path expected, Path actual) {
        try (Checkpoint a = Checkpoint.open(expected.toString(), CONF);
                Checkpoint b = Checkpoint.open(actual.toString(), CONF)) {
            assertEquals(a.tensorNames().stream().sorted().toList(), b.tensorNames().stream().sorted().toList());
            for (String name : a.tensorNames()) {
                assertArrayEquals(a.readFloats(name), b.readFloats(name), 0f, name);
            }
        }
    }

    /**
     * Rotary {@code inv_freq} buffers, which older Llama checkpoints carry and transformers does not
     * load, need not agree between the inputs and are left out of the output, as mergekit leaves them.
     */
    @Test
    void rotaryBuffersAreNeitherComparedNorWritten(@TempDir Path out) throws IOException {
        String buffered = rewritten(tuneA, out.resolve("tune-buffers"), false, (c, tensors) -> {
            List<SafetensorsWriter.TensorData> with = new ArrayList<>();
            for (SafetensorsWriter.TensorData t : tensors) {
                with.add(t);
                if (t.spec().name().endsWith("self_attn.q_proj.weight")) {
                    with.add(SafetensorsWriter.TensorData.ofFloats(t.spec().name().replace("q_proj.weight",
                            "rotary_emb.inv_freq"), DType.F32, new long[] {2}, new float[] {1f, 0.01f}));
                }
            }
            return with;
        });
        Path plain = out.resolve("plain");
        Path withBuffers = out.resolve("with-buffers");
        MergeJob.run(request(linearOf(base, tuneA, 0.4), plain, false, PlanOptions.defaults()), executor(1), CONF);
        MergeJob.run(request(linearOf(buffered, base, 0.6), withBuffers, false, PlanOptions.defaults()),
                executor(1), CONF);
        assertSameTensors(plain, withBuffers);
    }

    /**
     * A model with tied embeddings (no {@code lm_head.weight}) beside one with a head: where the
     * reference has a head, the tied model's head is its embedding (mergekit's {@code tied_names});
     * where the reference is the tied one, the output has no head either.
     */
    @Test
    void aModelWithTiedEmbeddingsMergesWithOneThatHasAHead(@TempDir Path out) throws IOException {
        String tied = rewritten(base, out.resolve("tied"), true, (c, tensors) -> tensors.stream()
                .filter(t -> !t.spec().name().equals("lm_head.weight")).toList());
        String explicit = rewritten(base, out.resolve("explicit"), true, (c, tensors) -> tensors.stream()
                .map(t -> t.spec().name().equals("lm_head.weight") ? SafetensorsWriter.TensorData.ofFloats(t.spec().name(),
                        c.info(t.spec().name()).dtype(), c.info(t.spec().name()).shape(), c.readFloats("model.embed_tokens.weight"))
                        : t).toList());
        String headless = rewritten(tuneA, out.resolve("headless"), false, (c, tensors) -> tensors.stream()
                .filter(t -> !t.spec().name().equals("lm_head.weight")).toList());
        Path[] merged = new Path[4];
        String[][] pairs = {{tuneA, tied}, {tuneA, explicit}, {tied, tuneA}, {tied, headless}};
        for (int i = 0; i < pairs.length; i++) {
            merged[i] = out.resolve("merged-" + i);
            MergeJob.run(request(linearOf(pairs[i][0], pairs[i][1], 0.5), merged[i], false, PlanOptions.defaults()),
                    executor(2), CONF);
        }
        assertSameTensors(merged[1], merged[0]);
        assertSameTensors(merged[3], merged[2]);
        try (Checkpoint m = Checkpoint.open(merged[2].toString(), CONF)) {
            assertFalse(m.contains("lm_head.weight"));
        }
    }

    /**
     * A fine-tune saved in another floating-point dtype than its base merges from each input's own
     * floats into the first model's dtype: F32 with F16, and BF16 with F32 (where the one-pass BF16
     * path must not be taken).
     */
    @Test
    void inputsInDifferentFloatDtypesMergeFromTheirOwnFloats(@TempDir Path out) {
        String f16 = out.resolve("tune-f16").toString();
        SyntheticModels.writeFineTune(f16, SHAPE, DType.F16, 1, 2, 0.01, 1 << 20, CONF);
        String bf16 = out.resolve("base-bf16").toString();
        SyntheticModels.writeBase(bf16, SHAPE, DType.BF16, 1, 1 << 20, CONF);
        String[][] pairs = {{base, f16}, {bf16, tuneA}};
        for (String[] pair : pairs) {
            Path dir = out.resolve("merged-" + pair[1].substring(pair[1].lastIndexOf('/') + 1));
            MergeJob.run(request(linearOf(pair[0], pair[1], 0.3), dir, false, PlanOptions.defaults()), executor(2),
                    CONF);
            try (Checkpoint a = Checkpoint.open(pair[0], CONF); Checkpoint b = Checkpoint.open(pair[1], CONF);
                    Checkpoint m = Checkpoint.open(dir.toString(), CONF)) {
                for (String name : m.tensorNames()) {
                    DType dtype = a.info(name).dtype();
                    assertEquals(dtype, m.info(name).dtype(), name);
                    float[] x = a.readFloats(name);
                    float[] y = b.readFloats(name);
                    // linear's normalized weights, as it computes them from the config's
                    double sum = (1 - 0.3) + 0.3;
                    float[] expected = new float[x.length];
                    for (int i = 0; i < x.length; i++) {
                        double acc = 0.0;
                        acc += (1 - 0.3) / sum * x[i];
                        acc += 0.3 / sum * y[i];
                        expected[i] = (float) acc;
                    }
                    TensorCodec.roundTo(dtype, expected, 0, expected.length);
                    assertArrayEquals(expected, m.readFloats(name), 0f, name);
                }
            }
        }
    }

    @Test
    void provenanceRecordsInputsPlanAndOutputHashes(@TempDir Path out) throws IOException {
        Path dir = out.resolve("merged");
        MergeJob.run(request(linearOf(base, tuneA, 0.5), dir, false, PlanOptions.defaults()), executor(1), CONF);
        JsonNode p = new ObjectMapper().readTree(dir.resolve(OutputPublisher.PROVENANCE_FILE).toFile());
        assertEquals("linear", p.get("merge_method").asText());
        assertEquals(2, p.get("inputs").size());
        JsonNode firstInput = p.get("inputs").get(0).get("shards").get(0);
        assertEquals(xxh64(Path.of(firstInput.get("path").asText().replaceFirst("^file:", ""))),
                firstInput.get("xxh64").asText());
        assertFalse(firstInput.has("sha256"), "SHA-256 only when asked for");
        assertEquals(xxh64(dir.resolve("model.safetensors")), p.get("output").get("shards").get(0).get("xxh64").asText());
        assertTrue(p.get("plan").get("units").size() > 0);

        // The file reads back as the record that writes the same bytes, in this JVM's environment.
        String text = Files.readString(dir.resolve(OutputPublisher.PROVENANCE_FILE));
        MergeProvenance read = Provenance.read(text, MergeProvenance.class);
        assertEquals(text, read.toJson());
        assertEquals(Environment.current(), read.environment());
        assertEquals("threads(1)", read.executor());
        assertNull(read.output().shards().get(0).sha256());
    }

    @Test
    void sha256IsRecordedWhenAskedForOnBothOutputPaths(@TempDir Path out) throws IOException {
        for (boolean inPlace : List.of(true, false)) {
            Configuration conf = inPlace ? CONF : partsOnly();
            Path dir = out.resolve("merged-" + inPlace);
            MergeJob.run(request(linearOf(base, tuneA, 0.5), dir, false, PlanOptions.defaults())
                    .withDigest(FileDigest.SHA256), new LocalMergeExecutor(2, conf, Progress.NONE), conf);
            MergeProvenance read = Provenance.read(Files.readString(dir.resolve(OutputPublisher.PROVENANCE_FILE)),
                    MergeProvenance.class);
            assertEquals(shardHashes(dir, false).get("model.safetensors"), read.output().shards().get(0).sha256());
            assertNull(read.output().shards().get(0).xxh64());
            FileHash input = read.inputs().get(1).shards().get(0);
            assertEquals(Sha256.of(Files.readAllBytes(Path.of(input.path().replaceFirst("^file:", "")))), input.sha256());
            assertNull(input.xxh64());
        }
    }

    @Test
    void assembledShardsAreHashedAsTheyAreWritten(@TempDir Path out) throws IOException {
        Path dir = out.resolve("merged");
        PlanOptions small = new PlanOptions(1 << 12, 700, 7);
        MergeJob.Outcome outcome = MergeJob.run(request(linearOf(base, tuneA, 0.5), dir, false, small),
                new LocalMergeExecutor(2, partsOnly(), Progress.NONE), partsOnly());
        assertTrue(outcome.shards().size() > 1);
        for (MergeCommitter.WrittenShard s : outcome.shards()) {
            assertEquals(FileDigest.XXH64, s.digest());
            assertEquals(xxh64(dir.resolve(s.fileName())), s.hex(), s.fileName());
        }
    }

    private static String xxh64(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        FileDigest.Stream s = FileDigest.XXH64.open();
        s.update(bytes, 0, bytes.length);
        return s.hex();
    }

    /**
     * mergekit's tests/test_basic_merges.py merges every method with its {@code two_model_config}:
     * weights 0.6 and 0.4 on the two models, whether the method reads them or not. mergekit reads
     * past what a method does not take; so must Mergeval, with the same output as the config
     * without it (karcher averages the base like the other models, in both).
     */
    @Test
    void mergekitsOwnTestConfigsMergeAsIfWithoutWhatTheMethodDoesNotRead(@TempDir Path out) throws IOException {
        Map<String, String> methods = Map.of("karcher", "{max_iter: 5, tol: 1.0e-5}", "sce", "{select_topk: 0.5}",
                "ram", "{}", "ramplus_tl", "{r: 0.05, alpha: 1.0}", "nearswap", "{t: 0.0001}", "arcee_fusion", "{}");
        for (Map.Entry<String, String> m : methods.entrySet()) {
            String method = m.getKey();
            boolean swapped = method.equals("nearswap") || method.equals("arcee_fusion");
            String first = swapped ? base : tuneA;
            String second = swapped ? tuneA : tuneB;
            String mergekit = """
                    merge_method: %s
                    base_model: %s
                    models:
                      - model: %s
                        parameters: {weight: 0.6}
                      - model: %s
                        parameters: {weight: 0.4}
                    dtype: bfloat16
                    parameters: %s
                    """.formatted(method, base, first, second, m.getValue());
            String plain = """
                    merge_method: %s
                    base_model: %s
                    models:
                      - model: %s
                      - model: %s
                    dtype: bfloat16
                    parameters: %s
                    """.formatted(method, base, first, second, m.getValue());
            Path asMergekit = out.resolve(method + "-mergekit");
            Path asWritten = out.resolve(method + "-plain");
            MergeJob.run(request(mergekit, asMergekit, false, PlanOptions.defaults()), executor(2), CONF);
            MergeJob.run(request(plain, asWritten, false, PlanOptions.defaults()), executor(2), CONF);
            assertEquals(shardHashes(asWritten, false), shardHashes(asMergekit, false), method);
            assertEquals(mergekit, Files.readString(asMergekit.resolve(MergeJob.CONFIG_FILE)), method);
        }
    }

    /**
     * A vision-language model whose vision encoder is deeper than its decoder (Qwen2-VL: 32 vision
     * blocks, 28 decoder layers, {@code num_hidden_layers} the decoder's) merges, each stack's
     * gradient running over its own layers: block 3 of 4 at {@code t = 1}, layer 1 of 2 too.
     */
    @Test
    void aVisionEncoderDeeperThanTheDecoderMergesWithItsOwnGradient(@TempDir Path out) throws IOException {
        String[] models = new String[2];
        for (int m = 0; m < 2; m++) {
            List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
            float[] one = {m + 1f, m + 1f};
            tensors.add(SafetensorsWriter.TensorData.ofFloats("model.embed_tokens.weight", DType.F32, new long[] {2}, one));
            for (int i = 0; i < 2; i++) {
                tensors.add(SafetensorsWriter.TensorData.ofFloats("model.layers." + i + ".mlp.up_proj.weight", DType.F32,
                        new long[] {2}, one));
            }
            for (int i = 0; i < 4; i++) {
                tensors.add(SafetensorsWriter.TensorData.ofFloats("visual.blocks." + i + ".attn.qkv.weight", DType.F32,
                        new long[] {2}, one));
            }
            Path dir = out.resolve("vl" + m);
            SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(dir.resolve("model.safetensors")), tensors,
                    Map.of("format", "pt"));
            Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"qwen2_vl\", \"num_hidden_layers\": 2,"
                    + " \"vision_config\": {\"depth\": 4}}");
            models[m] = dir.toString();
        }
        Path merged = out.resolve("merged");
        // Weights 1 - t and t: each tensor is 1 + t, its position on its own stack.
        MergeJob.run(request("""
                merge_method: linear
                models:
                  - model: %s
                    parameters: {weight: [1, 0]}
                  - model: %s
                    parameters: {weight: [0, 1]}
                dtype: float32
                """.formatted(models[0], models[1]), merged, false, PlanOptions.defaults()), executor(2), CONF);
        try (Checkpoint c = Checkpoint.open(merged.toString(), CONF)) {
            assertEquals(1f, c.readFloats("model.embed_tokens.weight")[0]);
            assertEquals(2f, c.readFloats("model.layers.1.mlp.up_proj.weight")[0]);
            assertEquals(1f + 1f / 3, c.readFloats("visual.blocks.1.attn.qkv.weight")[0], 1e-6);
            assertEquals(2f, c.readFloats("visual.blocks.3.attn.qkv.weight")[0]);
        }
    }

    @Test
    void aPlanShippedByJavaSerializationMergesTheSameBytes(@TempDir Path out) throws Exception {
        for (String method : List.of("dare_ties", "della", "slerp")) {
            String yaml = method.equals("slerp") ? """
                    merge_method: slerp
                    base_model: %s
                    models:
                      - model: %s
                      - model: %s
                    parameters: {t: [0, 0.3, 1]}
                    """.formatted(base, base, tuneA) : twoTunesBf16(method);
            Path here = out.resolve(method + "-here");
            Path shipped = out.resolve(method + "-shipped");
            PlanOptions small = new PlanOptions(PlanOptions.DEFAULT_MAX_SHARD_BYTES, 700, 7);
            MergeJob.run(request(yaml, here, false, small), executor(2), CONF);
            List<MergePlan> received = new ArrayList<>();
            MergeExecutor remote = executing(executor(2), plan -> {
                MergePlan copy = shipped(plan);
                received.add(copy);
                return copy;
            });
            MergeJob.run(request(yaml, shipped, false, small), remote, CONF);
            assertEquals(shardHashes(here, false), shardHashes(shipped, false), method);
            MergePlan plan = received.get(0);
            assertEquals(MergeConfig.parse(yaml, "test.yaml"), plan.config());
            assertEquals(plan.tensors().stream().filter(OutputTensor::merged).map(OutputTensor::name).toList(),
                    List.copyOf(plan.params().keySet()), method);
            // The tensors' index by name is rebuilt where the plan is read back, not shipped.
            for (OutputTensor t : plan.tensors()) {
                assertSame(t, plan.tensor(t.name()), t.name());
            }
            assertThrows(IllegalArgumentException.class, () -> plan.tensor("model.no_such.weight"));
        }
    }

    /** {@code plan} written and read back with Java serialization, as Spark ships it to executors. */
    private static MergePlan shipped(MergePlan plan) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
                o.writeObject(plan);
            }
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                return (MergePlan) in.readObject();
            }
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * mergekit's mapping form of a model reference ({@code {model: {path, revision}, lora}}, what it
     * writes into an output's {@code mergekit_config.yml} for a path with a space) merges as its
     * string form {@code PATH+ADAPTER}, byte for byte, with a PEFT adapter on a path with a space.
     */
    @Test
    void mergekitsMappingFormOfAModelMergesAsItsString(@TempDir Path out) throws IOException {
        Path spaced = out.resolve("model dir");
        SyntheticModels.writeBase(spaced.toString(), SHAPE, DType.F32, 1, 1 << 20, CONF);
        String adapter = out.resolve("an adapter").toString();
        LoraExtraction.run(LoraExtraction.Request.of(tuneA, base, 2, adapter),
                new LocalExtractExecutor(1, CONF, Progress.NONE), CONF);
        Path viaString = out.resolve("string");
        Path viaMapping = out.resolve("mapping");
        MergeJob.run(request(linearOf("\"" + spaced + "+" + adapter + "\"", tuneB, 0.4), viaString, false,
                PlanOptions.defaults()), executor(2), CONF);
        MergeJob.run(request(linearOf("{model: {path: \"" + spaced + "\", revision: null}, lora: {path: \"" + adapter
                + "\"}}", "{model: " + tuneB + ", lora: null}", 0.4), viaMapping, false, PlanOptions.defaults()),
                executor(1), CONF);
        Map<String, String> hashes = shardHashes(viaString, false);
        assertFalse(hashes.isEmpty());
        assertEquals(hashes, shardHashes(viaMapping, false));
        assertNotEquals(shardHashes(viaString, false), mergedHashes(out.resolve("plain"),
                linearOf("\"" + spaced + "\"", tuneB, 0.4)), "the adapter took part");
    }

    /**
     * An output at an input model's directory, or above it, would replace the model the merge
     * reads: refused even with --overwrite, before planning (inputs that could not merge are not
     * even read), the input left as it was; an output inside an input's directory replaces nothing
     * of it and is written.
     */
    @Test
    void anOutputOverAnInputIsRefusedEvenWithOverwrite(@TempDir Path out) throws IOException {
        Path inputs = out.resolve("models");
        Path a = inputs.resolve("a");
        Path b = inputs.resolve("b");
        SyntheticModels.writeBase(a.toString(), SHAPE, DType.F32, 1, 1 << 20, CONF);
        SyntheticModels.writeFineTune(b.toString(), SHAPE, DType.F32, 1, 2, 0.01, 1 << 20, CONF);
        Map<String, String> before = shardHashes(a, true);
        String yaml = linearOf(a.toString(), b.toString(), 0.5);
        for (Path over : List.of(a, inputs)) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> MergeJob.run(request(yaml, over, true, PlanOptions.defaults()), executor(1), CONF));
            assertTrue(e.getMessage().contains(a + "/, which this job reads (input '" + a + "')"), e.getMessage());
        }
        Path wider = inputs.resolve("wider");
        SyntheticModels.writeBase(wider.toString(), new SyntheticModels.Shape(2, 32, 32, 4, 2, 64), DType.F32, 3,
                1 << 20, CONF);
        BadInputException early = assertThrows(BadInputException.class, () -> MergeJob.run(request(
                linearOf(a.toString(), wider.toString(), 0.5), a, true, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(early.getMessage().contains("which this job reads (input '" + a + "')"), early.getMessage());
        // Nor through a symbolic link to it (publishing replaced the link, not the model, but it is refused as the model).
        Path link = Files.createSymbolicLink(out.resolve("link"), a);
        BadInputException linked = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, link, true, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(linked.getMessage().contains("which this job reads (input '" + a + "')"), linked.getMessage());
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(before, shardHashes(a, true), "the input untouched");
        MergeJob.run(request(yaml, a.resolve("merged"), false, PlanOptions.defaults()), executor(1), CONF);
        assertTrue(Files.exists(a.resolve("merged").resolve("config.json")));

        // Nor over the config file itself.
        Path project = out.resolve("project");
        Files.createDirectories(project);
        Path config = Files.writeString(project.resolve("merge.yml"), yaml);
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(new MergeJob.Request(
                config.toString(), yaml, project.toString(), 0, true, PlanOptions.defaults(), config.toString()),
                executor(1), CONF));
        assertTrue(e.getMessage().contains("which this job reads (the merge config)"), e.getMessage());
        assertEquals(yaml, Files.readString(config));
    }

    /**
     * A quantized (FP8) weight cannot be merged: every method but passthrough is refused before
     * anything is written (it was carried through from one model beside merged scales, a broken
     * model); passthrough copies it byte for byte, but not under a {@code scale}.
     */
    @Test
    void quantizedWeightsAreRefusedUnlessCopied(@TempDir Path out) throws IOException {
        Path a = fp8Model(out.resolve("a"), 1);
        Path b = fp8Model(out.resolve("b"), 2);
        String quantized = "model.layers.0.mlp.up_proj.weight";
        Path linear = out.resolve("linear");
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(request(
                linearOf(a.toString(), b.toString(), 0.5), linear, false, PlanOptions.defaults()), executor(1), CONF));
        assertEquals("test.yaml: merge_method: model '" + a + "' tensor " + quantized + " is float8_e4m3fn, a"
                + " quantized weight: linear cannot merge it (Mergeval merges float32, float16, bfloat16 and float64"
                + " weights); merge the checkpoints it was quantized from", e.getMessage());
        assertFalse(Files.exists(linear), "nothing published");

        Path copy = out.resolve("copy");
        MergeJob.run(request("merge_method: passthrough\nmodels: [{model: " + b + "}]\n", copy, false,
                PlanOptions.defaults()), executor(1), CONF);
        try (Checkpoint in = Checkpoint.open(b.toString(), CONF); Checkpoint copied = Checkpoint.open(copy.toString(), CONF)) {
            assertArrayEquals(in.readRaw(quantized, 0, 16), copied.readRaw(quantized, 0, 16));
        }
        Path scaled = out.resolve("scaled");
        BadInputException s = assertThrows(BadInputException.class, () -> MergeJob.run(request("""
                merge_method: passthrough
                models: [{model: %s, parameters: {scale: [{filter: mlp, value: 0.5}, {value: 1.0}]}}]
                """.formatted(b), scaled, false, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(s.getMessage().startsWith("test.yaml: scale: model '" + b + "' tensor " + quantized), s.getMessage());
    }

    /** A one-layer checkpoint whose MLP weight is FP8 (E4M3 codes from {@code seed}) with its F32 scale. */
    private static Path fp8Model(Path dir, int seed) throws IOException {
        List<TensorInfo> tensors = List.of(new TensorInfo("model.embed_tokens.weight", DType.F32, new long[] {8, 4}),
                new TensorInfo("model.layers.0.mlp.up_proj.weight", DType.F8_E4M3, new long[] {4, 4}),
                new TensorInfo("model.layers.0.mlp.up_proj.weight_scale_inv", DType.F32, new long[] {1}),
                new TensorInfo("model.norm.weight", DType.F32, new long[] {4}));
        try (SafetensorsWriter w = SafetensorsWriter.create(HadoopFs.local(), HadoopFs.of(dir),
                ShardLayout.plan(tensors, Long.MAX_VALUE, Map.of()))) {
            for (TensorInfo t : tensors) {
                if (t.dtype() == DType.F8_E4M3) {
                    byte[] codes = new byte[16];
                    for (int i = 0; i < codes.length; i++) {
                        codes[i] = (byte) (seed * 17 + i);
                    }
                    w.writeRaw(t.name(), codes, 0, codes.length);
                } else {
                    float[] v = new float[Math.toIntExact(t.numElements())];
                    Arrays.fill(v, seed);
                    w.writeFloats(t.name(), v, 0, v.length);
                }
            }
        }
        Files.writeString(dir.resolve("config.json"), "{\"num_hidden_layers\": 1}");
        return dir;
    }

    private static Map<String, String> mergedHashes(Path dir, String yaml) throws IOException {
        MergeJob.run(request(yaml, dir, false, PlanOptions.defaults()), executor(1), CONF);
        return shardHashes(dir, false);
    }

    /**
     * Both fine-tunes merged with BF16 output: task-arithmetic methods over the base with
     * densities, linear over the two fine-tunes alone (it takes neither a base nor densities).
     */
    private static String twoTunesBf16(String method) {
        boolean linear = method.equals("linear");
        return """
                merge_method: %s
                %smodels:
                  - model: %s
                    parameters: {weight: 0.6%s}
                  - model: %s
                    parameters: {weight: 0.4%s}
                out_dtype: bfloat16
                """.formatted(method, linear ? "" : "base_model: " + base + "\n", tuneA, linear ? "" : ", density: 0.5",
                tuneB, linear ? "" : ", density: 0.7");
    }

    private static String linearOf(String a, String b, double t) {
        return """
                merge_method: linear
                models:
                  - model: %s
                    parameters: {weight: %s}
                  - model: %s
                    parameters: {weight: %s}
                """.formatted(a, 1 - t, b, t);
    }

    @Test
    void theOutputGetsTheTokenizersFilesAndAModelCardUnlessAskedNot(@TempDir Path out) throws IOException {
        Path model = out.resolve("with-tokenizer");
        SyntheticModels.writeBase(model.toString(), SHAPE, DType.F32, 1, 1 << 20, CONF);
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"model_max_length\": 64}");
        Files.writeString(model.resolve("generation_config.json"), "{\"do_sample\": false}");
        String yaml = """
                merge_method: ties
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 1.0, density: 0.5}
                """.formatted(model, tuneA);
        Path all = out.resolve("all");
        MergeJob.run(request(yaml, all, false, PlanOptions.defaults()), executor(2), CONF);
        for (String file : List.of("tokenizer_config.json", "generation_config.json", ModelCard.FILE)) {
            assertTrue(Files.exists(all.resolve(file)), file);
        }
        String card = Files.readString(all.resolve(ModelCard.FILE));
        assertTrue(card.startsWith("---\n") && card.contains("\n# all\n"), card);
        assertTrue(card.contains("merge method using " + model + " as a base."), card);
        assertTrue(card.contains("\n* " + tuneA + "\n"), card);
        assertTrue(card.contains("```yaml\n" + yaml.strip() + "\n```"), card);

        Path bare = out.resolve("bare");
        MergeJob.run(request(yaml, bare, false, PlanOptions.defaults()).withFiles(new MergeJob.OutputFiles(false, false)),
                executor(2), CONF);
        assertEquals(shardHashes(all, false), shardHashes(bare, false));
        for (String file : List.of("tokenizer_config.json", "generation_config.json", ModelCard.FILE)) {
            assertFalse(Files.exists(bare.resolve(file)), file);
        }
        for (String file : List.of("config.json", MergeJob.CONFIG_FILE, OutputPublisher.PROVENANCE_FILE)) {
            assertTrue(Files.exists(bare.resolve(file)), file);
        }
    }

    @Test
    void modelsOfDifferentArchitecturesMergeOnlyWhenAskedFor(@TempDir Path out) throws IOException {
        Path other = out.resolve("other");
        SyntheticModels.writeFineTune(other.toString(), SHAPE, DType.F32, 1, 4, 0.01, 1 << 20, CONF);
        Path configJson = other.resolve("config.json");
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(configJson.toFile());
        config.putArray("architectures").add("MistralForCausalLM");
        json.writeValue(configJson.toFile(), config);
        String yaml = linearOf(base, other.toString(), 0.5);
        Path refused = out.resolve("refused");
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, refused, false, PlanOptions.defaults()), executor(2), CONF));
        assertTrue(e.getMessage().contains("model '" + other + "' is a MistralForCausalLM and model '" + base
                + "' a LlamaForCausalLM (mergekit's definitions mistral and llama)")
                && e.getMessage().contains("--allow-crimes"), e.getMessage());
        assertFalse(Files.exists(refused));

        // As mergekit: one definition lists both names; one it has no definition for is not compared.
        for (String same : List.of("LLaMaForCausalLM", "MyOwnForCausalLM")) {
            config.putArray("architectures").add(same);
            json.writeValue(configJson.toFile(), config);
            Path merged = out.resolve(same);
            MergeJob.run(request(yaml, merged, false, PlanOptions.defaults()), executor(2), CONF);
            assertTrue(Files.exists(merged.resolve(OutputPublisher.PROVENANCE_FILE)), same);
        }
        config.putArray("architectures").add("MistralForCausalLM");
        json.writeValue(configJson.toFile(), config);

        Path allowed = out.resolve("allowed");
        MergeJob.run(request(yaml, allowed, false, PlanOptions.defaults().withMixedArchitectures(true)), executor(2),
                CONF);
        assertTrue(Files.exists(allowed.resolve(OutputPublisher.PROVENANCE_FILE)));
    }

    @Test
    void aMissingModelIsNamedByItsFieldAndAHubIdGetsWhatToDo(@TempDir Path out) {
        String hubId = "mistralai/Mistral-7B-v0.1-" + out.getFileName();
        String yaml = "merge_method: ties\nbase_model: " + hubId + "\nmodels:\n  - model: " + tuneA
                + "\n    parameters: {weight: 1.0, density: 0.5}\n";
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, out.resolve("o"), false, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(e.getMessage().startsWith("test.yaml: base_model: model '" + hubId + "': ")
                && e.getMessage().contains("downloads nothing: download it, e.g. huggingface-cli download " + hubId),
                e.getMessage());
        String local = out.resolve("nowhere").toString();
        BadInputException plain = assertThrows(BadInputException.class, () -> MergeJob.run(
                request(linearOf(base, local, 0.5), out.resolve("o"), false, PlanOptions.defaults()), executor(1), CONF));
        assertTrue(plain.getMessage().startsWith("test.yaml: models: model '" + local + "': ")
                && plain.getMessage().endsWith(": not found"), plain.getMessage());
        assertFalse(Files.exists(out.resolve("o")));
    }

    /**
     * A {@code config.json} that counts fewer layers than the weights hold (edited, or copied from
     * another model) would leave the last layers' gradient positions undefined: refused at
     * planning, naming the model, the count and the first tensor beyond it.
     */
    @Test
    void aConfigCountingFewerLayersThanTheWeightsIsRefused(@TempDir Path out) throws IOException {
        Path stale = out.resolve("stale");
        org.apache.commons.io.FileUtils.copyDirectory(Path.of(base).toFile(), stale.toFile());
        ObjectNode config = (ObjectNode) Mappers.JSON.readTree(stale.resolve("config.json").toFile());
        int layers = config.get("num_hidden_layers").asInt();
        config.put("num_hidden_layers", layers - 1);
        Files.writeString(stale.resolve("config.json"), config.toString());
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(
                request(linearOf(stale.toString(), tuneA, 0.5), out.resolve("o"), false, PlanOptions.defaults()),
                executor(1), CONF));
        assertTrue(e.getMessage().startsWith("test.yaml: models: model '" + stale + "': its config.json counts "
                + (layers - 1) + " layers, but it holds 'model.layers." + (layers - 1) + "."), e.getMessage());
        assertFalse(Files.exists(out.resolve("o")));
        // With the model's own count it merges.
        config.put("num_hidden_layers", layers);
        Files.writeString(stale.resolve("config.json"), config.toString());
        MergeJob.run(request(linearOf(stale.toString(), tuneA, 0.5), out.resolve("o"), false, PlanOptions.defaults()),
                executor(1), CONF);
        assertTrue(Files.exists(out.resolve("o").resolve("config.json")));
    }

    /**
     * Two runs of one merge into one output (a scheduler's retry while the first still runs) would
     * share the staging directory named after their plan: with {@code --overwrite} both reported
     * success and the output held no weights. The second is refused while the first works, and the
     * first publishes the whole output.
     */
    @Test
    void aSecondRunOfTheSameMergeIsRefusedWhileTheFirstWorks(@TempDir Path out) throws Exception {
        String yaml = linearOf(base, tuneA, 0.3);
        Path reference = out.resolve("reference");
        MergeJob.run(request(yaml, reference, false, PlanOptions.defaults()), executor(1), CONF);
        CountDownLatch firstExecuting = new CountDownLatch(1);
        CountDownLatch secondDone = new CountDownLatch(1);
        MergeExecutor held = executing(executor(1), plan -> {
            firstExecuting.countDown();
            try {
                assertTrue(secondDone.await(60, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            return plan;
        });
        Path dir = out.resolve("o");
        CompletableFuture<MergeJob.Outcome> first = CompletableFuture.supplyAsync(
                () -> MergeJob.run(request(yaml, dir, true, PlanOptions.defaults()), held, CONF));
        assertTrue(firstExecuting.await(60, TimeUnit.SECONDS));
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, dir, true, PlanOptions.defaults()), executor(1), CONF));
        secondDone.countDown();
        assertTrue(e.getMessage().startsWith(dir + ": another run of this job is writing it"), e.getMessage());
        first.get(60, TimeUnit.SECONDS);
        assertEquals(shardHashes(reference, false), shardHashes(dir, false), "the whole output, weights included");
        try (Stream<Path> left = Files.list(out)) {
            assertEquals(List.of("o", "reference"), left.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no staging directory left");
        }
    }

    /**
     * An input written over while it is merged (a training run saving to the same path, same
     * length) would give an output of two versions' weights: refused before anything is published.
     */
    @Test
    void anInputWrittenOverDuringTheMergeIsRefused(@TempDir Path out) throws IOException {
        Path copy = out.resolve("tune");
        Path shard = firstShardOfACopy(tuneA, copy);
        MergeExecutor rewriting = executing(executor(1), plan -> {
            WrittenOver.writeOver(shard);
            return plan;
        });
        Path dir = out.resolve("o");
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(
                request(linearOf(base, copy.toString(), 0.5), dir, false, PlanOptions.defaults()), rewriting, CONF));
        assertTrue(e.getMessage().contains(shard.getFileName() + ": changed while it was read (then: "
                + Files.size(shard) + " bytes"), e.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
        try (Stream<Path> left = Files.list(out)) {
            assertEquals(List.of("tune"), left.map(p -> p.getFileName().toString()).toList(), "no staging to resume");
        }
        // Merged again, it reads the new version: as a fresh merge into another directory does.
        MergeJob.run(request(linearOf(base, copy.toString(), 0.5), dir, false, PlanOptions.defaults()), executor(1), CONF);
        MergeJob.run(request(linearOf(base, copy.toString(), 0.5), out.resolve("fresh"), false, PlanOptions.defaults()),
                executor(2), CONF);
        assertEquals(shardHashes(out.resolve("fresh"), false), shardHashes(dir, false));
    }

    /**
     * An input cut short while it is merged fails the read of a tensor planned within it: that is
     * the change, reported as such (exit 2, one line), not as an internal error, and nothing is
     * kept to resume.
     */
    @Test
    void anInputTruncatedDuringTheMergeIsRefusedAsChanged(@TempDir Path out) throws IOException {
        Path copy = out.resolve("tune");
        Path shard = firstShardOfACopy(tuneA, copy);
        long planned = Files.size(shard);
        MergeExecutor truncating = executing(executor(2), plan -> {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(shard,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(planned / 2);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return plan;
        });
        Path dir = out.resolve("o");
        BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(
                request(linearOf(base, copy.toString(), 0.5), dir, false, PlanOptions.defaults()), truncating, CONF));
        assertTrue(e.getMessage().contains(shard.getFileName() + ": changed while it was read (then: " + planned
                + " bytes"), e.getMessage());
        assertFalse(Files.exists(dir), "nothing published");
        try (Stream<Path> left = Files.list(out)) {
            assertEquals(List.of("tune"), left.map(p -> p.getFileName().toString()).toList(), "no staging to resume");
        }
    }

    /**
     * A unit that refuses what it reads (multislerp's weights, gradients here, cancel at the first
     * layer): the same plan would refuse it again, so nothing is kept to resume.
     */
    @Test
    void aRefusalWhileExecutingLeavesNoStaging(@TempDir Path out) throws IOException {
        String yaml = """
                merge_method: multislerp
                models:
                  - model: %s
                    parameters: {weight: [1, 1]}
                  - model: %s
                    parameters: {weight: [-1, 1]}
                """.formatted(tuneA, tuneB);
        Path dir = out.resolve("o");
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(yaml, dir, false, PlanOptions.defaults()), executor(2), CONF));
        assertTrue(e.getMessage().matches("test\\.yaml: model\\.\\S+: multislerp: the models. weights sum to 0.*"), e.getMessage());
        try (Stream<Path> left = Files.list(out)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).toList(), "no staging left");
        }
    }

    /**
     * A rank-1 PEFT adapter in {@code dir} of every {@code q_proj} of {@code base}, {@code lora_A}
     * filled with {@code a} and {@code lora_B} with {@code b}, {@code lora_alpha} 1.
     */
    static Path qProjAdapter(Path dir, String base, float a, float b) throws IOException {
        Files.createDirectories(dir);
        List<SafetensorsWriter.TensorData> factors = new ArrayList<>();
        try (Checkpoint model = Checkpoint.open(base, CONF)) {
            for (String name : model.tensorNames()) {
                if (name.endsWith("self_attn.q_proj.weight")) {
                    String module = "base_model.model." + name.substring(0, name.length() - ".weight".length());
                    TensorInfo t = model.info(name);
                    float[] down = new float[(int) t.dim(1)];
                    float[] up = new float[(int) t.dim(0)];
                    Arrays.fill(down, a);
                    Arrays.fill(up, b);
                    factors.add(SafetensorsWriter.TensorData.ofFloats(module + ".lora_A.weight", DType.F32,
                            new long[] {1, t.dim(1)}, down));
                    factors.add(SafetensorsWriter.TensorData.ofFloats(module + ".lora_B.weight", DType.F32,
                            new long[] {t.dim(0), 1}, up));
                }
            }
        }
        org.apache.hadoop.fs.Path weights = HadoopFs.of(dir.resolve("adapter_model.safetensors"));
        SafetensorsWriter.writeFile(HadoopFs.get(weights, CONF), weights, factors, Map.of("format", "pt"));
        Files.writeString(dir.resolve("adapter_config.json"),
                "{\"peft_type\": \"LORA\", \"r\": 1, \"lora_alpha\": 1, \"target_modules\": [\"q_proj\"]}");
        return dir;
    }

    /** Copies model {@code from} to {@code copy}; its first shard there. */
    private static Path firstShardOfACopy(String from, Path copy) throws IOException {
        org.apache.commons.io.FileUtils.copyDirectory(Path.of(from).toFile(), copy.toFile());
        try (Stream<Path> files = Files.list(copy)) {
            return files.filter(f -> f.toString().endsWith(".safetensors")).sorted().findFirst().orElseThrow();
        }
    }

    private static MergeJob.Request request(String yaml, Path out, boolean overwrite, PlanOptions options) {
        return new MergeJob.Request("test.yaml", yaml, out.toString(), 0, overwrite, options);
    }

    static LocalMergeExecutor executor(int threads) {
        return new LocalMergeExecutor(threads, CONF, Progress.NONE);
    }

    /** {@code inner}, executing the plan {@code beforeExecute} returns for the one it is given. */
    static MergeExecutor executing(MergeExecutor inner, UnaryOperator<MergePlan> beforeExecute) {
        return around(inner, (plan, partsDir) -> inner.execute(beforeExecute.apply(plan), partsDir));
    }

    /** {@code inner}, adding the results of every execution to {@code seen}. */
    static MergeExecutor recording(MergeExecutor inner, List<UnitResult> seen) {
        return around(inner, (plan, partsDir) -> {
            List<UnitResult> r = inner.execute(plan, partsDir);
            seen.addAll(r);
            return r;
        });
    }

    private static MergeExecutor around(MergeExecutor inner, BiFunction<MergePlan, String, List<UnitResult>> execute) {
        return new MergeExecutor() {
            @Override
            public List<UnitResult> execute(MergePlan plan, String partsDir) {
                return execute.apply(plan, partsDir);
            }

            @Override
            public List<String> digests(List<String> files, FileDigest kind) {
                return inner.digests(files, kind);
            }

            @Override
            public String describe() {
                return inner.describe();
            }
        };
    }

    /** sha256 of every safetensors file (and, if asked, every file) of an output directory. */
    static Map<String, String> shardHashes(Path dir, boolean allFiles) throws IOException {
        Map<String, String> hashes = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (allFiles || f.getFileName().toString().endsWith(".safetensors")) {
                    hashes.put(f.getFileName().toString(), dev.mergeval.common.Sha256.of(
                            org.apache.hadoop.fs.FileSystem.getLocal(CONF), new org.apache.hadoop.fs.Path(f.toUri())));
                }
            }
        }
        return hashes;
    }

    /** Runs units one at a time and dies after {@code limit} of them, like a killed job. */
    private record FailingAfter(int limit, AtomicInteger done, Configuration conf) implements MergeExecutor {
        @Override
        public List<UnitResult> execute(MergePlan plan, String partsDir) {
            List<UnitResult> results = new ArrayList<>();
            for (WorkUnit unit : plan.units()) {
                if (done.get() == limit) {
                    throw new IllegalStateException("executor lost");
                }
                results.add(UnitExecutor.execute(plan, unit, partsDir, conf));
                done.incrementAndGet();
            }
            return results;
        }

        @Override
        public List<String> digests(List<String> files, FileDigest kind) {
            return new LocalMergeExecutor(1, conf, Progress.NONE).digests(files, kind);
        }

        @Override
        public String describe() {
            return "failing";
        }
    }
}
