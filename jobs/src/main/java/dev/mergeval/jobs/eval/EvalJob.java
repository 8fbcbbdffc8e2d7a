package dev.mergeval.jobs.eval;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.Progress;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.EvalTask;
import dev.mergeval.eval.LocalEvaluator;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.eval.TaskRunner;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.engine.OpenAiClient;
import dev.mergeval.provenance.Engine;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.ParquetDirs;
import dev.mergeval.jobs.StagedOutput;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;

/**
 * {@code mergeval eval} on Spark: plans (model, task slice) units on the driver, runs them on
 * executors ({@link RunUnit}: one model load per executor JVM and model while it stays in the executor's
 * bounded {@link ExecutorModels} cache), and writes per-prompt
 * records as Parquet ({@code records.parquet}) and JSON Lines ({@code records.jsonl}, in plan order)
 * plus {@code metrics.json} and {@code metrics.csv}, published whole on any Hadoop filesystem with
 * {@code mergeval_provenance.json} as the completeness marker. Metrics are aggregated from the records DataFrame
 * with built-in operators only ({@link RecordMetrics}, the same counts as {@link MetricsAggregator}), so
 * the aggregation stages can run on Spark RAPIDS GPU executors.
 */
public final class EvalJob {

    public static final String PARQUET = "records.parquet";
    static final long PARQUET_ROWS_PER_FILE = 10_000;

    /**
     * What a run did, for the CLI and the benchmark.
     *
     * @param loadSeconds     model load time, summed over executors
     * @param generateSeconds time in units after their model was loaded (generating and judging),
     *                        summed over executor cores
     * @param wallSeconds     the whole run on the driver, from reading the suite to the last output
     */
    public record Summary(int units, long records, List<MetricRow> metrics, long modelLoads, double loadSeconds,
                          double generateSeconds, double wallSeconds, long engineFailures) {
    }

    private EvalJob() {
    }

    /**
     * With {@code --overwrite} the output directory is replaced whole: it must not be, or hold,
     * the suite, what its tasks read (datasets, judge models) or a model the evaluation reads (a
     * directory, an adapter's parts, a merge's config and what that merge reads), as the sweep's
     * output checks it.
     */
    private static void checkOutsideInputs(OutputLocation out, EvalJobConfig config, EvalSuite suite) {
        List<String> inputs = new ArrayList<>();
        inputs.add(config.suitePath());
        inputs.addAll(suite.readLocations());
        for (ModelSource m : config.models()) {
            if (m instanceof ModelSource.Directory d) {
                inputs.add(d.uri());
            } else if (m instanceof ModelSource.WithAdapter a) {
                inputs.addAll(List.of(a.base(), a.adapter()));
            } else if (m instanceof ModelSource.MergeOnLoad merge) {
                inputs.add(merge.location());
                inputs.addAll(merge.config().readLocations());
            }
        }
        out.requireHoldsNone(inputs, "this evaluation reads");
    }

    /** The units: every model x task, each task's sampled items cut into slices of {@code sliceSize}. */
    public static List<EvalUnit> plan(EvalSuite suite, EvalJobConfig config) {
        List<EvalUnit> units = new ArrayList<>();
        for (int m = 0; m < config.models().size(); m++) {
            for (int t = 0; t < suite.tasks().size(); t++) {
                EvalTask task = suite.tasks().get(t);
                int n = LocalEvaluator.items(task, suite.seed(), config.limit()).size();
                for (int from = 0; from < n; from += config.sliceSize()) {
                    units.add(new EvalUnit(m, config.models().get(m), t, task.name(), from,
                            Math.min(n, from + config.sliceSize())));
                }
            }
        }
        return units;
    }

    /**
     * Runs the evaluation and publishes its outputs at {@code config.outDir()} (any Hadoop
     * filesystem, through the session's Hadoop configuration) atomically: see {@link StagedOutput}.
     *
     * @param overwrite replace a non-empty output directory; without it one is refused before any work
     */
    public static Summary run(SparkSession spark, EvalJobConfig config, ModelFactory factory, boolean overwrite) {
        long start = System.nanoTime();
        HadoopFs.useDefaults(spark.sparkContext().hadoopConfiguration());
        OutputLocation out = OutputLocation.resolve(config.outDir(), spark.sparkContext().hadoopConfiguration());
        StagedOutput.check(out, overwrite);
        EvalSuite suite = EvalSuite.read(config.suitePath());
        if (overwrite) {
            checkOutsideInputs(out, config, suite);
        }
        List<EvalUnit> units = plan(suite, config);
        List<ModelSource> judgeModels = judgeModels(suite);
        // A merge's plan-time analysis runs here once, not on every executor that loads the merge.
        if (config.launch() == null) {
            config.models().forEach(m -> ModelSources.prepare(m, HadoopFs.defaults()));
        }
        var provenance = EvalOutputs.provenance(suite, config.suitePath(), config.models(), config.limit(),
                config.sliceSize(), spark.sparkContext().master(), HadoopFs.defaults(), engine(config));
        return StagedOutput.write(out, overwrite, provenance,
                dir -> evaluate(spark, config, judgeModels, factory, units, out.fs(), dir, start));
    }

    /** By task index, the judge model of each task whose judge needs one (else null), parsed here once. */
    static List<ModelSource> judgeModels(EvalSuite suite) {
        List<ModelSource> judges = new ArrayList<>();
        for (EvalTask task : suite.tasks()) {
            judges.add(task.judge() == null || !task.judge().needsModel() ? null : judgeModel(task.judge()));
        }
        return judges;
    }

    /** A judge's model: served by its engine, or a source loaded in the JVM. */
    public static ModelSource judgeModel(dev.mergeval.eval.judges.JudgeSpec judge) {
        return judge.servedEngine() != null ? new ModelSource.Served(judge.servedEngine())
                : ModelSource.parse(judge.modelSource(), HadoopFs.defaults());
    }

    /**
     * What runs the evaluated models, for provenance: for served models their server, its URL and
     * what its {@code GET /models} answers now (never the key); {@code null} for the in-JVM runtime.
     */
    static Engine engine(EvalJobConfig config) {
        if (config.launch() != null) {
            return Engine.openai(null, config.launch().model(), null, config.launch().launch());
        }
        List<ModelSource.Served> served = config.models().stream()
                .filter(m -> m instanceof ModelSource.Served).map(m -> (ModelSource.Served) m).toList();
        if (served.isEmpty()) {
            return null;
        }
        EngineSpec e = served.get(0).engine();
        return Engine.openai(e.root(), String.join(",", served.stream().map(s -> s.engine().model()).toList()),
                new OpenAiClient(e).requireModel(), null);
    }

    private static Summary evaluate(SparkSession spark, EvalJobConfig config, List<ModelSource> judgeModels,
            ModelFactory factory, List<EvalUnit> units, FileSystem fs, org.apache.hadoop.fs.Path dir, long start) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        LongAccumulator loads = jsc.sc().longAccumulator("model loads");
        LongAccumulator loadNanos = jsc.sc().longAccumulator("model load nanos");
        LongAccumulator generateNanos = jsc.sc().longAccumulator("generate nanos");
        RunUnit runUnit = new RunUnit(config.suitePath(), config.limit(), judgeModels, factory,
                ExecutorModels.modelsPerDevice(spark), loads, loadNanos, generateNanos);
        // One partition per unit: Spark schedules units on free executor cores as they finish. Launched
        // servers: one task per executor slot, each serving the model for its share of the units.
        JavaRDD<Row> rows = (config.launch() == null
                ? jsc.parallelize(units, Math.max(1, units.size())).flatMap(runUnit)
                : jsc.parallelize(units, Math.max(1, Math.min(units.size(), jsc.defaultParallelism())))
                        .mapPartitions(new LaunchedUnits(runUnit, config.launch(), config.launchModel(), loads)))
                .persist(StorageLevel.MEMORY_AND_DISK());
        try {
            // Run every unit once (in parallel, cached); the writes below then read the cache.
            long count = FailFast.run(jsc, "mergeval eval: " + units.size() + " units", Progress.NONE, rows::count);
            Dataset<Row> df = spark.createDataFrame(rows, RecordRows.SCHEMA);
            // A few files, not one per unit: units are small and a file per unit costs more than it writes.
            String parquet = new org.apache.hadoop.fs.Path(dir, PARQUET).toString();
            df.coalesce((int) Math.max(1, Math.min(rows.getNumPartitions(), count / PARQUET_ROWS_PER_FILE)))
                    .write().mode("overwrite").parquet(parquet);
            ParquetDirs.normalize(parquet, spark.sparkContext().hadoopConfiguration());

            List<MetricRow> metrics = RecordMetrics.metrics(df);

            List<Row> ordered = new ArrayList<>(rows.collect());
            ordered.sort(Comparator.<Row>comparingInt(r -> r.getInt(0)).thenComparingInt(r -> r.getInt(1))
                    .thenComparingInt(r -> r.getInt(2)));
            List<PromptRecord> records = ordered.stream().map(RecordRows::toRecord).toList();
            EvalOutputs.writeJsonLines(fs, new org.apache.hadoop.fs.Path(dir, EvalOutputs.RECORDS), records);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("suite", config.suitePath());
            info.put("models", config.models().stream().map(ModelSource::text).toList());
            info.put("spark_master", spark.sparkContext().master());
            info.put("limit", config.limit() > 0 ? config.limit() : null);
            long failures = records.stream().filter(r -> r.judgeOutput() != null
                    && (r.judgeOutput().startsWith(TaskRunner.ENGINE_ERROR)
                    || r.judgeOutput().startsWith("judge " + TaskRunner.ENGINE_ERROR))).count();
            if (failures > 0) {
                info.put("engine_failed_records", failures);
            }
            EvalOutputs.writeMetrics(fs, dir, metrics, info);
            return new Summary(units.size(), records.size(), metrics, loads.value(), loadNanos.value() / 1e9,
                    generateNanos.value() / 1e9,
                    (System.nanoTime() - start) / 1e9, failures);
        } finally {
            rows.unpersist(false);
        }
    }
}
