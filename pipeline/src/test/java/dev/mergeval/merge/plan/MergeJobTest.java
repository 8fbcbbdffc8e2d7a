package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
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
                    """.formatted(base, base, tuneA) : """
                    merge_method: %s
                    base_model: %s
                    models:
                      - model: %s
                        parameters: {weight: 0.6, density: 0.5}
                      - model: %s
                        parameters: {weight: 0.4, density: 0.7}
                    out_dtype: bfloat16
                    """.formatted(method, base, tuneA, tuneB);
            if (method.equals("linear")) {
                yaml = yaml.replace("merge_method: linear\nbase_model: " + base + "\n", "merge_method: linear\n")
                        .replace(", density: 0.5", "").replace(", density: 0.7", "");
            }
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
    }

    @Test
    void aKilledRunPublishesNothingAndTheRerunReusesFinishedUnits(@TempDir Path out) throws IOException {
        String yaml = linearOf(base, tuneA, 0.5);
        Path dir = out.resolve("merged");
        PlanOptions small = PlanOptions.defaults().withMaxUnitBytes(2_000);
        AtomicInteger done = new AtomicInteger();
        MergeExecutor dying = new FailingAfter(3, done);
        assertThrows(IllegalStateException.class,
                () -> MergeJob.run(request(yaml, dir, false, small), dying, CONF));
        assertFalse(Files.exists(dir), "nothing published after a failure");

        List<UnitResult> seen = new ArrayList<>();
        MergeExecutor recording = new MergeExecutor() {
            final LocalMergeExecutor inner = executor(1);

            @Override
            public List<UnitResult> execute(MergePlan plan, String partsDir) {
                List<UnitResult> r = inner.execute(plan, partsDir);
                seen.addAll(r);
                return r;
            }

            @Override
            public List<String> sha256(List<String> files) {
                return inner.sha256(files);
            }

            @Override
            public String describe() {
                return "recording";
            }
        };
        MergeJob.run(request(yaml, dir, false, small), recording, CONF);
        assertEquals(3, seen.stream().filter(UnitResult::reused).count());
        assertTrue(seen.size() > 3);

        Path fresh = out.resolve("fresh");
        MergeJob.run(request(yaml, fresh, false, small), executor(2), CONF);
        assertEquals(shardHashes(fresh, false), shardHashes(dir, false));
    }

    @Test
    void incompatibleInputsAreListedInOneError(@TempDir Path out) {
        String other = out.resolve("other").toString();
        SyntheticModels.Shape wider = new SyntheticModels.Shape(3, 16, 32, 4, 2, 80);
        SyntheticModels.writeBase(other, wider, DType.F16, 1, 1 << 20, CONF);
        BadInputException e = assertThrows(BadInputException.class,
                () -> MergeJob.run(request(linearOf(base, other, 0.5), out.resolve("m"), false, PlanOptions.defaults()),
                        executor(1), CONF));
        assertTrue(e.getMessage().contains("vocabulary size differs"), e.getMessage());
        assertTrue(e.getMessage().contains("has extra tensor model.layers.2."), e.getMessage());
        assertTrue(e.getMessage().contains("dtype differs"), e.getMessage());
    }

    @Test
    void provenanceRecordsInputsPlanAndOutputHashes(@TempDir Path out) throws IOException {
        Path dir = out.resolve("merged");
        MergeJob.run(request(linearOf(base, tuneA, 0.5), dir, false, PlanOptions.defaults()), executor(1), CONF);
        JsonNode p = new ObjectMapper().readTree(dir.resolve(OutputPublisher.PROVENANCE_FILE).toFile());
        assertEquals("linear", p.get("merge_method").asText());
        assertEquals(2, p.get("inputs").size());
        assertEquals(64, p.get("inputs").get(0).get("shards").get(0).get("sha256").asText().length());
        assertEquals(shardHashes(dir, false).get("model.safetensors"),
                p.get("output").get("shards").get(0).get("sha256").asText());
        assertTrue(p.get("plan").get("units").size() > 0);
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

    private static MergeJob.Request request(String yaml, Path out, boolean overwrite, PlanOptions options) {
        return new MergeJob.Request("test.yaml", yaml, out.toString(), 0, overwrite, options);
    }

    static LocalMergeExecutor executor(int threads) {
        return new LocalMergeExecutor(threads, CONF, Progress.NONE);
    }

    /** sha256 of every safetensors file (and, if asked, every file) of an output directory. */
    static Map<String, String> shardHashes(Path dir, boolean allFiles) throws IOException {
        Map<String, String> hashes = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                if (allFiles || f.getFileName().toString().endsWith(".safetensors")) {
                    hashes.put(f.getFileName().toString(), dev.mergeval.checkpoint.Sha256.of(
                            org.apache.hadoop.fs.FileSystem.getLocal(CONF), new org.apache.hadoop.fs.Path(f.toUri())));
                }
            }
        }
        return hashes;
    }

    /** Runs units one at a time and dies after {@code limit} of them, like a killed job. */
    private record FailingAfter(int limit, AtomicInteger done) implements MergeExecutor {
        @Override
        public List<UnitResult> execute(MergePlan plan, String partsDir) {
            List<UnitResult> results = new ArrayList<>();
            for (WorkUnit unit : plan.units()) {
                if (done.get() == limit) {
                    throw new IllegalStateException("executor lost");
                }
                results.add(UnitExecutor.execute(plan, unit, partsDir, CONF));
                done.incrementAndGet();
            }
            return results;
        }

        @Override
        public List<String> sha256(List<String> files) {
            return executor(1).sha256(files);
        }

        @Override
        public String describe() {
            return "failing";
        }
    }
}
