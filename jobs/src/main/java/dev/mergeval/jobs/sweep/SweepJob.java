package dev.mergeval.jobs.sweep;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.type.CollectionType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.StagingClaim;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.common.Sha256;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.EvalTask;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.ModelFactory;
import dev.mergeval.jobs.lora.SparkExtractExecutor;
import dev.mergeval.lora.SweepAdapters;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.report.SweepReport;
import dev.mergeval.source.ModelSource;
import dev.mergeval.sweep.Materialize;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * A merge-ratio sweep: plan the points, evaluate each one not finished yet, choose, materialize,
 * report.
 *
 * <p>Every point has a content-derived id (models and their files' versions, method, parameters,
 * seed, and the suite file's SHA-256), and its finished metrics are stored under
 * {@code points/<id>/}; a re-run of the same spec evaluates only the points that have none, so an
 * interrupted or scheduled run picks up where it stopped, an edited suite invalidates every point
 * and a model written again the points that read it. The directory may be on any Hadoop
 * filesystem; {@link SweepOutput} says what it holds and when the final files count as complete.
 * A merge point is evaluated merge-on-load:
 * its mergekit config is written next to its metrics and the runtime merges tensor by tensor as it
 * loads, writing no checkpoint; the evaluation gets the parsed config as a value, so no executor
 * reads the file. With the spec's {@code lora_adapters:} block, the linear points are also written as
 * PEFT adapters with the command that serves them all ({@link SweepAdapters}), before any evaluation.
 * With {@code engine: {kind: openai, launch: ...}} each point is instead written to
 * disk and served by servers the executors start for it ({@link #evaluateLaunched}).
 */
public final class SweepJob {

    public static final String POINTS_DIR = "points";
    /** A point's evaluation output, in its directory. */
    static final String EVAL_DIR = "eval";
    public static final String METRICS_FILE = "metrics.json";
    public static final String MERGE_CONFIG = "merge.yaml";
    public static final String MODELS_DIR = "models";

    /**
     * Items per evaluation unit: larger than a one-off eval's slices, because a sweep evaluates many
     * small models where per-task overhead, not balance, dominates.
     */
    static final int SLICE_SIZE = 32;

    /** NaN rates (no parseable item) must survive the round trip through metrics.json. */
    private static final ObjectMapper JSON = Mappers.json()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /**
     * @param table every point's metrics and assessment, the recommendation and the goal status:
     *              what the final files and the console show
     * @param evaluated points evaluated by this run
     * @param reused points whose metrics an earlier run had stored
     * @param materialized directories of the merged checkpoints written
     * @param loraAdapters the linear points as PEFT adapters and their serve command, with the spec's
     *                     {@code lora_adapters:} block; else null
     */
    public record Outcome(SweepTable table, int evaluated, int reused, List<String> materialized,
            SweepAdapters.Written loraAdapters) {
        /** Every point's metrics, in point order. */
        public List<PointResult> results() {
            return table.results();
        }

        public Selection selection() {
            return table.selection();
        }
    }

    private SweepJob() {
    }

    /**
     * Runs the sweep into {@code outDir} (a local path or any Hadoop filesystem URI, through the
     * session's Hadoop configuration); see {@link SweepOutput} for what the directory holds and when
     * it is refused.
     */
    public static Outcome run(SparkSession spark, SweepSpec spec, String outDir, ModelFactory models,
            Function<String, MergeExecutor> mergeExecutors, Progress progress) {
        Instant started = Instant.now();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        SweepOutput output = SweepOutput.of(spec, outDir, conf);
        try (StagingClaim claim = output.claim()) {
            return run(spark, spec, output, models, mergeExecutors, progress, started, conf);
        }
    }

    /** {@link #run} into {@code output}, whose claim ({@link SweepOutput#claim}) the caller holds. */
    public static Outcome runClaimed(SparkSession spark, SweepSpec spec, SweepOutput output, ModelFactory models,
            Function<String, MergeExecutor> mergeExecutors, Progress progress) {
        return run(spark, spec, output, models, mergeExecutors, progress, Instant.now(),
                spark.sparkContext().hadoopConfiguration());
    }

    private static Outcome run(SparkSession spark, SweepSpec spec, SweepOutput output, ModelFactory models,
            Function<String, MergeExecutor> mergeExecutors, Progress progress, Instant started, Configuration conf) {
        OutputLocation out = output.location();
        FileSystem fs = out.fs();
        String suite = suitePath(spec, out);
        String suiteIdentity = suiteIdentity(suite, conf);
        List<SweepPoint> points = spec.points(suiteIdentity, inputVersions(spec.points(suiteIdentity, Map.of()), conf));
        SweepAdapters.Written adapters = spec.loraAdapters() == null ? null
                : SweepAdapters.write(spec.loraAdapters(), spec.aligned(), spec.finetuned(), points, spec.seed(),
                        OutputLocation.name(out.path()), new SparkExtractExecutor(
                                JavaSparkContext.fromSparkContext(spark.sparkContext()), Progress.NONE), conf);
        List<PointResult> results = new ArrayList<>();
        int evaluated = 0;
        progress.start("sweep", points.size());
        try {
            for (SweepPoint point : points) {
                Path dir = new Path(out.child(POINTS_DIR), point.id());
                Path metrics = new Path(dir, METRICS_FILE);
                // what a killed run left staged there; this run holds the sweep's claim
                new OutputPublisher(fs).discardLeftovers(dir, EVAL_DIR);
                if (!exists(fs, metrics)) {
                    if (spec.engineSpec().isOpenAi()) {
                        evaluateLaunched(spark, spec, point, out, dir, suite, models, mergeExecutors, conf);
                    } else {
                        evaluate(spark, point, fs, dir, suite, models, conf);
                    }
                    evaluated++;
                }
                results.add(PointResult.fromRows(point, readRows(fs, metrics)));
                progress.advance(1);
            }
        } finally {
            progress.finish();
        }
        SweepTable table = SweepTable.of(spec, results);
        List<String> materialized = materialize(spec, table.selection(), points, out, mergeExecutors, conf);
        int fresh = evaluated;
        int reused = points.size() - evaluated;
        output.publishFinalFiles(staging -> {
            ResultsParquet.write(spark, new Path(staging, ResultsParquet.DIR).toString(), table);
            SweepReport.write(fs, staging, table, SweepProvenance.of(spec.hash(), started,
                    Instant.now(), spark.sparkContext().master(), fresh, reused, Environment.current()));
        });
        return new Outcome(table, evaluated, reused, materialized, adapters);
    }

    /**
     * The model source the runtime loads for a point: its model, or the merge of its mergekit
     * config (the one written to {@code pointDir}, whose location names it, where a kept analysis
     * goes and relative paths resolve) evaluated on load with the point's seed.
     */
    static ModelSource modelSource(SweepPoint point, Path pointDir, Configuration conf) {
        if (!point.isMerge()) {
            return ModelSource.parse(point.modelSource(), conf);
        }
        String location = OutputLocation.name(new Path(pointDir, MERGE_CONFIG));
        return new ModelSource.MergeOnLoad(MergeConfig.parse(point.toMergekitYaml(), location, location), location,
                point.seed());
    }

    private static void evaluate(SparkSession spark, SweepPoint point, FileSystem fs, Path dir, String suite,
            ModelFactory models, Configuration conf) {
        try {
            HadoopFs.writeString(fs, new Path(dir, "point.json"), JSON.writeValueAsString(point));
            if (point.isMerge()) {
                HadoopFs.writeString(fs, new Path(dir, MERGE_CONFIG), point.toMergekitYaml());
            }
            // A point interrupted after its evaluation was published is evaluated again, replacing it.
            EvalJob.Summary summary = EvalJob.run(spark, new EvalJobConfig(List.of(modelSource(point, dir, conf)),
                    suite, OutputLocation.name(new Path(dir, EVAL_DIR)), -1, SLICE_SIZE), models, true);
            // The metrics file is the point's completion marker: it appears whole or not at all.
            HadoopFs.writeAtomically(fs, new Path(dir, METRICS_FILE), JSON.writeValueAsString(summary.metrics()));
        } catch (IOException e) {
            throw new UncheckedIOException("point " + point.id() + ": " + e.getMessage(), e);
        }
    }

    /**
     * A point on launched servers ({@code engine: {kind: openai, launch: ...}}): the point is
     * materialized ({@code models/<id>}, as {@code materialize} writes it; a fine-tune or the aligned
     * model is served from its own source), each executor task starts a server on it, evaluates its
     * share of the units through it and stops it ({@code LaunchedUnits}), and the point is deleted
     * unless {@code materialize: all} keeps every point (the chosen one is written again, if it was
     * deleted, when the sweep materializes it).
     */
    private static void evaluateLaunched(SparkSession spark, SweepSpec spec, SweepPoint point, OutputLocation out,
            Path dir, String suite, ModelFactory models, Function<String, MergeExecutor> mergeExecutors,
            Configuration conf) {
        FileSystem fs = out.fs();
        Path target = new Path(out.child(MODELS_DIR), point.id());
        String model = point.isMerge() ? OutputLocation.name(target) : point.modelSource();
        try {
            HadoopFs.writeString(fs, new Path(dir, "point.json"), JSON.writeValueAsString(point));
            if (point.isMerge()) {
                HadoopFs.writeString(fs, new Path(dir, MERGE_CONFIG), point.toMergekitYaml());
                if (!exists(fs, new Path(target, OutputPublisher.PROVENANCE_FILE))) {
                    MergeJob.run(new MergeJob.Request("point " + point.id(), point.toMergekitYaml(), target.toString(),
                            point.seed(), true, PlanOptions.defaults()), mergeExecutors.apply(point.id()), conf);
                }
            }
            // Each executor task starts its own server on the materialized point (LaunchedUnits).
            EvalJob.Summary summary = EvalJob.run(spark, new EvalJobConfig(List.of(modelSource(point, dir, conf)),
                    suite, OutputLocation.name(new Path(dir, EVAL_DIR)), -1, SLICE_SIZE, spec.engineSpec(), model),
                    models, true);
            HadoopFs.writeAtomically(fs, new Path(dir, METRICS_FILE), JSON.writeValueAsString(summary.metrics()));
            if (point.isMerge() && spec.materialize() != Materialize.ALL) {
                fs.delete(target, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("point " + point.id() + ": " + e.getMessage(), e);
        }
    }

    private static boolean exists(FileSystem fs, Path p) {
        try {
            return fs.exists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
    }

    private static List<MetricRow> readRows(FileSystem fs, Path metrics) {
        try {
            CollectionType type = JSON.getTypeFactory().constructCollectionType(List.class, MetricRow.class);
            return JSON.readValue(HadoopFs.readString(fs, metrics), type);
        } catch (IOException e) {
            throw new BadInputException(metrics + ": unreadable metrics of a finished point (" + e.getMessage()
                    + "); delete the point's directory to evaluate it again");
        }
    }

    /**
     * The version of every model source and file parameter the points read
     * ({@link SweepPoint#inputSources()}), from each file of a model directory (both parts of
     * {@code BASE+ADAPTER}) or the file named: a local file by its name, length and XXH64 (hashed
     * once per file version, {@link dev.mergeval.common.DigestCache}), so that the same bytes give
     * the same ids in any checkout, copied or not; a remote one (S3, HDFS) by its path, length and
     * modification time, which its store keeps for every reader, where hashing would download the
     * model on every run. A model written again so gives the points that read it new ids, evaluated
     * anew, where reusing their metrics would report another model's.
     */
    static Map<String, String> inputVersions(List<SweepPoint> points, Configuration conf) {
        Map<String, String> versions = new TreeMap<>();
        for (SweepPoint p : points) {
            for (String source : p.inputSources()) {
                if (!versions.containsKey(source)) {
                    StringBuilder files = new StringBuilder();
                    for (String location : locations(source, conf)) {
                        versionOf(new Path(location), conf, files);
                    }
                    versions.put(source, Sha256.ofText(files.toString()));
                }
            }
        }
        return versions;
    }

    /**
     * The locations whose files make up {@code source}: a directory or file, a base and its adapter,
     * or a merge's config and everything it reads.
     */
    private static List<String> locations(String source, Configuration conf) {
        return ModelSource.parse(source, conf).match(new ModelSource.Cases<>() {
            @Override
            public List<String> directory(ModelSource.Directory d) {
                return List.of(d.uri());
            }

            @Override
            public List<String> withAdapter(ModelSource.WithAdapter a) {
                return List.of(a.base(), a.adapter());
            }

            @Override
            public List<String> mergeOnLoad(ModelSource.MergeOnLoad m) {
                List<String> read = new ArrayList<>(List.of(m.location()));
                m.config().readLocations().forEach(location -> read.addAll(locations(location, conf)));
                return read;
            }

            @Override
            public List<String> served(ModelSource.Served s) {
                return List.of();
            }
        });
    }

    /** Appends the version of file {@code p}, or of each (not hidden) file of directory {@code p}, by name. */
    private static void versionOf(Path p, Configuration conf, StringBuilder out) {
        try {
            FileSystem fs = HadoopFs.get(p, conf);
            FileStatus status = fs.getFileStatus(p);
            List<FileStatus> files = new ArrayList<>();
            if (status.isDirectory()) {
                for (FileStatus f : fs.listStatus(p)) {
                    if (f.isFile() && !f.getPath().getName().startsWith(".")) {
                        files.add(f);
                    }
                }
                files.sort(Comparator.comparing(f -> f.getPath().getName()));
            } else {
                files.add(status);
            }
            boolean local = fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem;
            for (FileStatus f : files) {
                if (local) {
                    out.append(f.getPath().getName()).append(' ').append(f.getLen()).append(' ')
                            .append(FileDigest.XXH64.id()).append(':').append(FileDigest.XXH64.of(fs, f.getPath()));
                } else {
                    ShardFile v = ShardFile.of(f.getPath(), f);
                    out.append(v.path()).append(' ').append(v.length()).append(' ').append(v.modified());
                }
                out.append('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the files of " + p, e);
        }
    }

    /**
     * What identifies the suite in point ids: its file's SHA-256 and each dataset's (every file of a
     * dataset folder), so that a rerun after a dataset was written again (rows appended) evaluates
     * the points anew instead of reusing metrics of the old rows.
     */
    static String suiteIdentity(String suite, Configuration conf) {
        StringBuilder text = new StringBuilder(HadoopFs.sha256(suite, conf));
        for (EvalTask task : EvalSuite.read(suite).tasks()) {
            for (String data : Arrays.asList(task.dataset().path(), task.dataset().fewShotPath())) {
                if (data == null) {
                    continue;
                }
                Path p = new Path(data);
                try {
                    FileSystem fs = HadoopFs.get(p, conf);
                    List<String> files = new ArrayList<>();
                    if (fs.getFileStatus(p).isDirectory()) {
                        for (FileStatus f : fs.listStatus(p)) {
                            if (f.isFile()) {
                                files.add(f.getPath().toString());
                            }
                        }
                        files.sort(null);
                    } else {
                        files.add(data);
                    }
                    for (String f : files) {
                        text.append(' ').append(HadoopFs.sha256(f, conf));
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read dataset " + data + " of " + suite, e);
                }
            }
        }
        return "sha256:" + Sha256.ofText(text.toString());
    }

    /** The suite file every executor reads: the spec's path, or the inline suite written out. */
    private static String suitePath(SweepSpec spec, OutputLocation out) {
        if (spec.suite().path() != null) {
            java.nio.file.Path p = java.nio.file.Path.of(spec.suite().path()).toAbsolutePath();
            if (!Files.isRegularFile(p)) {
                throw new BadInputException("suite: " + spec.suite().path() + " does not exist");
            }
            return p.toString();
        }
        try {
            Path p = out.child("suite.yaml");
            HadoopFs.writeString(out.fs(), p, Mappers.QUOTED_YAML.writeValueAsString(
                    spec.suite().inline()));
            return OutputLocation.name(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> materialize(SweepSpec spec, Selection selection, List<SweepPoint> points,
            OutputLocation out, Function<String, MergeExecutor> mergeExecutors, Configuration conf) {
        List<SweepPoint> chosen = spec.materialize().pick(points, selection.chosenPoint());
        List<String> written = new ArrayList<>();
        for (SweepPoint p : chosen) {
            Path target = new Path(out.child(MODELS_DIR), p.id());
            if (!exists(out.fs(), new Path(target, OutputPublisher.PROVENANCE_FILE))) {
                MergeJob.run(new MergeJob.Request("point " + p.id(), p.toMergekitYaml(), target.toString(), p.seed(),
                        false, PlanOptions.defaults()), mergeExecutors.apply(p.id()), conf);
            }
            written.add(OutputLocation.name(target));
        }
        return written;
    }
}
