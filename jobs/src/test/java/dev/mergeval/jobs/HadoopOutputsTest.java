package dev.mergeval.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.jobs.cluster.MiniHdfs;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.S3MockServer;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.ExecutorModels;
import dev.mergeval.jobs.eval.ModelFactory;
import dev.mergeval.jobs.eval.RuleModelFactory;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.jobs.sweep.SweepJob;
import dev.mergeval.jobs.sweep.SweepOutput;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Eval and sweep outputs on real remote filesystems: S3 (S3Mock over loopback, through S3A with its
 * settings only in {@code spark.hadoop.*}) and HDFS (MiniDFSCluster), from a local[2] driver.
 * Outputs appear whole or not at all, a sweep resumes there, and its merge-on-load points read
 * their merge configs from there.
 */
class HadoopOutputsTest {

    private static final String BUCKET = "outputs";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static S3MockServer s3;
    private static MiniHdfs hdfs;
    private static SparkSession spark;

    @TempDir
    Path work;

    Path root = ProjectLayout.root();
    Path suite;

    @BeforeAll
    static void start() {
        s3 = S3MockServer.start(BUCKET);
        hdfs = MiniHdfs.start(1);
        SparkConf conf = SparkTestConf.local("hadoop-outputs", 2);
        s3.s3aSettings().forEach((k, v) -> conf.set("spark.hadoop." + k, v));
        // Hadoop caches a FileSystem per scheme and bucket, whatever configuration made it: without
        // this, a read with settings lacking the endpoint would pass on a cached instance here and
        // fail on an executor whose first S3 access it is.
        conf.set("spark.hadoop.fs.s3a.impl.disable.cache", "true");
        spark = SparkSession.builder().config(conf).getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
        ExecutorModels.closeAll();
        if (hdfs != null) {
            hdfs.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    @BeforeEach
    void tinySuite() throws IOException {
        ExecutorModels.closeAll();
        suite = work.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: tiny",
                "defaults: {chat_template: true, generation: {max_new_tokens: 6}}",
                "tasks:",
                "  - {name: harmful, dataset: {kind: jsonl, path: " + root.resolve("data/toy/heldout-harmful.jsonl")
                        + "}, judge: keyword, limit: 2}",
                "  - {name: task, dataset: {kind: jsonl, path: " + root.resolve("data/toy/heldout-task.jsonl")
                        + "}, scorer: exact_match, limit: 2}",
                ""));
    }

    private static FileSystem fs(String uri) {
        return HadoopFs.get(new org.apache.hadoop.fs.Path(uri), spark.sparkContext().hadoopConfiguration());
    }

    private static boolean exists(String uri) throws IOException {
        return fs(uri).exists(new org.apache.hadoop.fs.Path(uri));
    }

    /** Every file under {@code uri}, relative, sorted. */
    private static List<String> files(String uri) throws IOException {
        org.apache.hadoop.fs.Path base = fs(uri).makeQualified(new org.apache.hadoop.fs.Path(uri));
        List<String> names = new ArrayList<>();
        RemoteIterator<LocatedFileStatus> it = fs(uri).listFiles(base, true);
        while (it.hasNext()) {
            names.add(it.next().getPath().toUri().getPath().substring(base.toUri().getPath().length() + 1));
        }
        names.sort(null);
        return names;
    }

    private static List<String> names(String dirUri) throws IOException {
        List<String> names = new ArrayList<>();
        for (FileStatus st : fs(dirUri).listStatus(new org.apache.hadoop.fs.Path(dirUri))) {
            names.add(st.getPath().getName());
        }
        return names;
    }

    private static String read(String uri) throws IOException {
        return HadoopFs.readString(fs(uri), new org.apache.hadoop.fs.Path(uri));
    }

    private EvalJob.Summary eval(String out, ModelFactory models, boolean overwrite, String... modelNames) {
        return EvalJob.run(spark, new EvalJobConfig(
                java.util.Arrays.stream(modelNames).<ModelSource>map(ModelSource.Directory::new).toList(),
                suite.toString(), out, -1, 2), models,
                overwrite);
    }

    @Test
    void evalPublishesWholeOnS3AndHdfs() throws IOException {
        for (String parent : List.of("s3a://" + BUCKET + "/evals", hdfs.uri() + "/evals")) {
            String out = parent + "/run";
            EvalJob.Summary s = eval(out, new RuleModelFactory(), false, "modelA");
            assertEquals(4, s.records());
            assertEquals(List.of(OutputPublisher.PROVENANCE_FILE, "metrics.csv", "metrics.json", "records.jsonl"),
                    files(out).stream().filter(f -> !f.startsWith("records.parquet/")).toList(), parent);
            assertEquals(4, read(out + "/records.jsonl").lines().count());
            assertEquals(4, spark.read().parquet(out + "/" + EvalJob.PARQUET).count());
            JsonNode provenance = JSON.readTree(read(out + "/" + OutputPublisher.PROVENANCE_FILE));
            assertEquals("eval", provenance.get("command").asText());
            assertEquals(suite.toString(), provenance.at("/inputs/suite").asText());
            assertEquals("modelA", provenance.at("/inputs/models/0").asText());
            assertEquals(List.of("run"), names(parent), "no staging directory left beside the output");

            // Occupied: refused before any work, untouched; --overwrite replaces it whole.
            String metrics = read(out + "/" + EvalOutputs.METRICS_JSON);
            BadInputException refused = assertThrows(BadInputException.class,
                    () -> eval(out, new RuleModelFactory(), false, "modelB"));
            assertTrue(refused.getMessage().contains("output directory is not empty"), refused.getMessage());
            assertEquals(metrics, read(out + "/" + EvalOutputs.METRICS_JSON));
            eval(out, new RuleModelFactory(), true, "modelB");
            assertTrue(read(out + "/" + EvalOutputs.METRICS_JSON).contains("\"modelB\""));
            assertFalse(read(out + "/records.jsonl").contains("\"modelA\""));
            assertEquals(List.of("run"), names(parent));
        }
    }

    /** A bucket that does not exist is the user's path, as a missing key is: bad input naming it. */
    @Test
    void aMissingBucketIsBadInputNamingThePath() {
        Configuration conf = s3.s3aConf();
        conf.set("fs.s3a.impl.disable.cache", "true");
        String path = "s3a://no-such-bucket/m/model";
        Exception e = assertThrows(Exception.class, () -> HadoopFs.get(new org.apache.hadoop.fs.Path(path), conf)
                .getFileStatus(new org.apache.hadoop.fs.Path(path)));
        BadInputException bad = BadInputException.in(new java.io.UncheckedIOException("cannot stat " + path,
                (IOException) e));
        assertEquals(path + ": no such bucket", bad == null ? e.toString() : bad.getMessage());
    }

    /** S3A refuses a directory under a file object with its own exception: still the user's bad path. */
    @Test
    void anOutputUnderAFileObjectIsBadInput() throws IOException {
        Configuration conf = s3.s3aConf();
        conf.set("fs.s3a.impl.disable.cache", "true");
        org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path("s3a://" + BUCKET + "/a-file");
        try (var out = HadoopFs.get(file, conf).create(file, true)) {
            out.write(1);
        }
        String under = file + "/sub/out";
        BadInputException e = assertThrows(BadInputException.class, () -> OutputPublisher.forPath(under, conf).stage(under));
        assertTrue(e.getMessage().startsWith(under + ": a parent is not a directory"), e.getMessage());
    }

    @Test
    void aFailedEvalPublishesNothing() throws IOException {
        String parent = "s3a://" + BUCKET + "/failed-eval";
        String out = parent + "/run";
        assertThrows(Exception.class, () -> eval(out, new FailingOn("broken"), false, "modelA", "broken"));
        assertFalse(exists(out));
        assertEquals(List.of(), exists(parent) ? names(parent) : List.of(), "no staging directory left");
    }

    @Test
    void sweepOnS3ResumesAndMergesOnLoadFromThere() throws IOException {
        SweepSpec spec = inlineSuiteSpec("s3-sweep");
        String out = "s3a://" + BUCKET + "/sweeps/toy";
        SweepJob.Outcome first = sweep(spec, out, new RuntimeModelFactory());
        assertEquals(4, first.evaluated(), "aligned, fine-tuned and two merges");
        List<String> top = names(out);
        for (String f : List.of("results.csv", "summary.json", "report.html", "results.parquet",
                SweepOutput.SWEEP_FILE, "suite.yaml")) {
            assertTrue(top.contains(f), f + " in " + top);
        }
        assertTrue(top.stream().noneMatch(n -> n.contains("staging")), top.toString());
        int merges = 0;
        for (var r : first.results()) {
            String dir = out + "/points/" + r.point().id();
            assertTrue(exists(dir + "/" + SweepJob.METRICS_FILE));
            if (r.point().isMerge()) {
                merges++;
                // The merge-on-load source names the config on S3, and the runtime loads it from there.
                String source = ModelSource.MERGE_PREFIX + dir + "/" + SweepJob.MERGE_CONFIG + "#seed=0";
                assertTrue(read(dir + "/eval/" + OutputPublisher.PROVENANCE_FILE).contains(source));
            }
        }
        assertEquals(2, merges);
        assertEquals(spec.hash(), JSON.readTree(read(out + "/" + SweepOutput.SWEEP_FILE)).get("spec_hash").asText());
        assertEquals(1 + 4, read(out + "/results.csv").lines().count());

        SweepJob.Outcome again = sweep(spec, out, new RuntimeModelFactory());
        assertEquals(0, again.evaluated(), "a finished sweep re-runs nothing");
        assertEquals(4, again.reused());

        // A sweep of another spec is refused there, before any work and without touching it.
        List<String> before = files(out);
        BadInputException refused = assertThrows(BadInputException.class,
                () -> sweep(spec("other-spec"), out, new RuntimeModelFactory()));
        assertTrue(refused.getMessage().contains("holds a sweep of a different spec"), refused.getMessage());
        assertEquals(before, files(out));
    }

    @Test
    void aFailedSweepOnHdfsLeavesNothingThatLooksComplete() throws IOException {
        SweepSpec spec = spec("hdfs-sweep");
        String out = hdfs.uri() + "/sweeps/failing";
        // Someone else's results there: refused untouched; --overwrite checks, then clears them under its claim.
        HadoopFs.writeString(fs(out), new org.apache.hadoop.fs.Path(out + "/results.csv"), "theirs\n");
        assertThrows(BadInputException.class, () -> sweep(spec, out, new RuleModelFactory()));
        assertEquals(List.of("results.csv"), files(out));
        SweepOutput replacing = SweepOutput.of(spec, out, spark.sparkContext().hadoopConfiguration());
        replacing.prepare(true, List.of());
        assertEquals(List.of("results.csv"), files(out), "nothing deleted before the claim is this run's");
        replacing.claim(true).close();
        assertFalse(exists(out + "/results.csv"));
        SweepJob.Outcome first = sweep(spec, out, new RuleModelFactory());
        assertEquals(4, first.evaluated());
        assertTrue(exists(out + "/summary.json"));

        // One merge point was never evaluated; the re-run fails evaluating it (bad input mid-way).
        String id = first.results().stream().filter(r -> r.point().isMerge()).findFirst().orElseThrow().point().id();
        String point = out + "/points/" + id;
        fs(point).delete(new org.apache.hadoop.fs.Path(point), true);
        ExecutorModels.closeAll();
        assertThrows(Exception.class, () -> sweep(spec, out, new FailingOn(ModelSource.MERGE_PREFIX)));
        List<String> top = names(out);
        for (String f : List.of("summary.json", "results.csv", "report.html", "results.parquet")) {
            assertFalse(top.contains(f), "a failed run left " + f + " in " + top);
        }
        // Neither the point's marker nor its evaluation, nor a staging directory: only its inputs.
        assertEquals(List.of("merge.yaml", "point.json"), names(point).stream().sorted().toList());
        for (var r : first.results()) {
            if (!r.point().id().equals(id)) {
                assertTrue(exists(out + "/points/" + r.point().id() + "/" + SweepJob.METRICS_FILE));
            }
        }

        SweepJob.Outcome resumed = sweep(spec, out, new RuleModelFactory());
        assertEquals(1, resumed.evaluated());
        assertTrue(exists(out + "/summary.json"));
    }

    private SweepSpec spec(String name) {
        return spec(name, "suite: " + suite);
    }

    /**
     * The same sweep with its suite written inline: the sweep stores it in its output directory,
     * and the driver and the executors read it (and its datasets) from there with the job's
     * {@code spark.hadoop.*} settings only.
     */
    private SweepSpec inlineSuiteSpec(String name) {
        return spec(name, "suite: {name: tiny, defaults: {chat_template: true, generation: {max_new_tokens: 6}}, tasks: ["
                + "{name: harmful, dataset: {kind: jsonl, path: " + root.resolve("data/toy/heldout-harmful.jsonl")
                + "}, judge: keyword, limit: 2}, {name: task, dataset: {kind: jsonl, path: "
                + root.resolve("data/toy/heldout-task.jsonl") + "}, scorer: exact_match, limit: 2}]}");
    }

    private SweepSpec spec(String name, String suiteLine) {
        return SweepSpec.parse(String.join("\n",
                "name: " + name,
                "aligned: " + root.resolve("models/toy/aligned"),
                "finetuned: " + root.resolve("models/toy/finetuned"),
                "grid:",
                "  - {method: linear, ratios: [0.3, 0.7]}",
                suiteLine,
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "select: {rule: max_task_within_refusal_tolerance, tolerance: 0.5}",
                "materialize: none",
                "seed: 0",
                ""), name + ".yaml");
    }

    private static SweepJob.Outcome sweep(SweepSpec spec, String out, ModelFactory models) {
        return SweepJob.run(spark, spec, out, models,
                id -> new LocalMergeExecutor(1, new Configuration(), Progress.NONE), Progress.NONE);
    }

    /** The rule model, except that loading a source starting with {@code prefix} is bad input. */
    static final class FailingOn implements ModelFactory {
        private static final long serialVersionUID = 1L;
        private final String prefix;

        FailingOn(String prefix) {
            this.prefix = prefix;
        }

        @Override
        public LanguageModel load(ModelSource source, String device) {
            if (source.text().startsWith(prefix)) {
                throw new BadInputException(source + ": not a model");
            }
            return new RuleModelFactory().load(source, device);
        }
    }
}
