package dev.mergeval.jobs.sweep;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.type.CollectionType;
import dev.mergeval.checkpoint.Sha256;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.ModelFactory;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import dev.mergeval.report.SweepProvenance;
import dev.mergeval.report.SweepReport;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.Selector;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * A merge-ratio sweep: plan the points, evaluate each one not finished yet, choose, materialize,
 * report.
 *
 * <p>Every point has a content-derived id (models, method, parameters, seed, and the suite file's
 * SHA-256), and its finished metrics are stored under {@code points/<id>/}; a re-run of the same
 * spec evaluates only the points that have none, so an interrupted or scheduled run picks up where
 * it stopped and an edited suite invalidates every point. A merge point is evaluated merge-on-load:
 * its mergekit config is written next to its metrics and the runtime merges tensor by tensor as it
 * loads, writing no checkpoint.
 */
public final class SweepJob {

    public static final String POINTS_DIR = "points";
    public static final String METRICS_FILE = "metrics.json";
    public static final String MERGE_CONFIG = "merge.yaml";
    public static final String MODELS_DIR = "models";

    /** NaN rates (no parseable item) must survive the round trip through metrics.json. */
    /**
     * Items per evaluation unit: larger than a one-off eval's slices, because a sweep evaluates many
     * small models where per-task overhead, not balance, dominates.
     */
    static final int SLICE_SIZE = 32;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /**
     * @param results every point's metrics, in grid order
     * @param selection the recommendation and the goal status
     * @param evaluated points evaluated by this run
     * @param reused points whose metrics an earlier run had stored
     * @param materialized directories of the merged checkpoints written
     */
    public record Outcome(List<PointResult> results, Selection selection, int evaluated, int reused,
            List<Path> materialized) {
    }

    private SweepJob() {
    }

    public static Outcome run(SparkSession spark, SweepSpec spec, Path outDir, ModelFactory models,
            Function<String, MergeExecutor> mergeExecutors, Progress progress) {
        Instant started = Instant.now();
        Path suite = suitePath(spec, outDir);
        List<SweepPoint> points = spec.points("sha256:" + Sha256.of(suite.toString(), new Configuration()));
        List<PointResult> results = new ArrayList<>();
        int evaluated = 0;
        progress.start("sweep", points.size());
        try {
            for (SweepPoint point : points) {
                Path dir = outDir.resolve(POINTS_DIR).resolve(point.id());
                Path metrics = dir.resolve(METRICS_FILE);
                if (!Files.exists(metrics)) {
                    evaluate(spark, point, dir, suite, models);
                    evaluated++;
                }
                results.add(PointResult.fromRows(point, readRows(metrics)));
                progress.advance(1);
            }
        } finally {
            progress.finish();
        }
        Selection selection = Selector.select(spec, results);
        List<Path> materialized = materialize(spec, selection, points, outDir, mergeExecutors);
        ResultsParquet.write(spark, outDir.resolve(ResultsParquet.DIR), results);
        SweepReport.write(outDir, spec, results, selection, SweepProvenance.of(started, Instant.now(),
                Map.of("spark_master", spark.sparkContext().master(),
                        "points_evaluated", Integer.toString(evaluated),
                        "points_reused", Integer.toString(points.size() - evaluated))));
        return new Outcome(results, selection, evaluated, points.size() - evaluated, materialized);
    }

    /** The model source the runtime loads for a point: a directory, or a merge evaluated on load. */
    static String modelSource(SweepPoint point, Path pointDir) {
        if (!point.isMerge()) {
            return point.modelSource();
        }
        return LanguageModels.MERGE_PREFIX + pointDir.resolve(MERGE_CONFIG).toAbsolutePath() + "#seed=" + point.seed();
    }

    private static void evaluate(SparkSession spark, SweepPoint point, Path dir, Path suite,
            ModelFactory models) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("point.json"), JSON.writeValueAsString(point));
            if (point.isMerge()) {
                Files.writeString(dir.resolve(MERGE_CONFIG), point.toMergekitYaml());
            }
            Path evalDir = dir.resolve("eval");
            EvalJob.Summary summary = EvalJob.run(spark, new EvalJobConfig(List.of(modelSource(point, dir)),
                    suite.toString(), evalDir.toString(), -1, SLICE_SIZE), models);
            // The metrics file is the point's completion marker: written whole, then moved into place.
            Path tmp = dir.resolve(METRICS_FILE + ".tmp");
            Files.writeString(tmp, JSON.writeValueAsString(summary.metrics()), StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(METRICS_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("point " + point.id() + ": " + e.getMessage(), e);
        }
    }

    private static List<MetricRow> readRows(Path metrics) {
        try {
            CollectionType type = JSON.getTypeFactory().constructCollectionType(List.class, MetricRow.class);
            return JSON.readValue(metrics.toFile(), type);
        } catch (IOException e) {
            throw new BadInputException(metrics + ": unreadable metrics of a finished point (" + e.getMessage()
                    + "); delete the point's directory to evaluate it again");
        }
    }

    /** The suite file every executor reads: the spec's path, or the inline suite written out. */
    private static Path suitePath(SweepSpec spec, Path outDir) {
        try {
            if (spec.suite().path() != null) {
                Path p = Path.of(spec.suite().path()).toAbsolutePath();
                if (!Files.isRegularFile(p)) {
                    throw new BadInputException("suite: " + spec.suite().path() + " does not exist");
                }
                return p;
            }
            Files.createDirectories(outDir);
            Path p = outDir.resolve("suite.yaml").toAbsolutePath();
            new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).writeValue(p.toFile(),
                    spec.suite().inline());
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Path> materialize(SweepSpec spec, Selection selection, List<SweepPoint> points, Path outDir,
            Function<String, MergeExecutor> mergeExecutors) {
        List<SweepPoint> chosen = spec.materialize().pick(points, selection.chosenPoint());
        List<Path> written = new ArrayList<>();
        for (SweepPoint p : chosen) {
            Path target = outDir.resolve(MODELS_DIR).resolve(p.id());
            if (Files.exists(target.resolve(dev.mergeval.checkpoint.OutputPublisher.PROVENANCE_FILE))) {
                written.add(target);
                continue;
            }
            MergeJob.run(new MergeJob.Request("point " + p.id(), p.toMergekitYaml(), target.toString(), p.seed(), false,
                    PlanOptions.defaults()), mergeExecutors.apply(p.id()), new Configuration());
            written.add(target);
        }
        return written;
    }
}
