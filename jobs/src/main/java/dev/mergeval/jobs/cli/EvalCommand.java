package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.StagedOutput;
import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval eval}: runs a suite on one or more models as a Spark job. Cluster settings come
 * from spark-submit or {@code spark-defaults.conf}; {@code --master} is only a convenience, and
 * without any master the job runs on {@code local[*]}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate models on a suite (safety judges and task scorers), fanned out over Spark executors.")
final class EvalCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", paramLabel = "SOURCE",
            description = "Model source (repeat to evaluate several models); with --engine openai, the served model name.")
    List<String> models;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @Option(names = "--suite", required = true, paramLabel = "SUITE.yaml", description = "Suite file.")
    String suite;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Output directory: a local path, file:, hdfs:// or s3a://; published whole when done.")
    String out;

    @Option(names = "--overwrite", description = "Replace a non-empty output directory (atomically, when done).")
    boolean overwrite;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master, e.g. local[2] or spark://host:7077.")
    String master;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "-1", description = "At most N items per task.")
    int limit;

    @Option(names = "--slice-size", paramLabel = "N", defaultValue = "" + EvalJobConfig.DEFAULT_SLICE_SIZE,
            description = "Items per unit of work (default ${DEFAULT-VALUE}).")
    int sliceSize;

    @Override
    public Integer call() {
        EvalJobConfig config = validated();
        StagedOutput.check(OutputLocation.resolve(out, SparkSessions.hadoopConfiguration()), overwrite);
        SparkSession spark = SparkSessions.create("mergeval eval", master);
        try {
            EvalJob.Summary s = EvalJob.run(spark, config, new RuntimeModelFactory(), overwrite);
            var w = spec.commandLine().getOut();
            w.printf("evaluated %d records in %d units on %s in %.1f s (model loads: %d, %.1f s) -> %s%n",
                    s.records(), s.units(), spark.sparkContext().master(), s.wallSeconds(), s.modelLoads(),
                    s.loadSeconds(), out);
            if (s.engineFailures() > 0) {
                w.printf("engine: %d records whose request failed after its retries (recorded as unparseable, "
                        + "judge_output 'engine error: ...')%n", s.engineFailures());
            }
            for (MetricRow r : s.metrics()) {
                if (r.category().equals(MetricRow.ALL)) {
                    w.printf("  %s %s %s: %.4f [%.4f, %.4f] n=%d unparseable=%d%n", r.model(), r.task(), r.metric(),
                            r.rate(), r.interval().low(), r.interval().high(), r.n(), r.unparseable());
                }
            }
            // The log is not a result: it joins the output after publication.
            String log = ConsoleLogging.copyTo(OutputLocation.resolve(out, spark.sparkContext().hadoopConfiguration()));
            if (log != null) {
                w.printf("log: %s%n", log);
            }
            return MergevalCli.EXIT_OK;
        } finally {
            spark.stop();
        }
    }

    /** The arguments checked, with paths made absolute; see {@link InputChecks}. */
    private EvalJobConfig validated() {
        if (spec.commandLine().getParseResult().hasMatchedOption("--limit")) {
            InputChecks.atLeast("--limit", limit, 1);
        }
        InputChecks.atLeast("--slice-size", sliceSize, 1);
        String suitePath = InputChecks.path(suite);
        EvalSuite parsed = InputChecks.suite(suitePath);
        EngineSpec engine;
        try {
            engine = engineOptions.resolve(parsed.engine());
        } catch (BadInputException e) {
            throw parsed.engine().isOpenAi() && !e.getMessage().startsWith("--")
                    ? new BadInputException(suitePath + ": " + e.getMessage(), e) : e;
        }
        if (engine.isOpenAi()) {
            List<String> names = models != null ? models : engine.model() != null ? List.of(engine.model()) : List.of();
            if (names.isEmpty()) {
                throw new BadInputException("--model: the served model name is required with engine openai"
                        + " (or model: in the suite's engine block)");
            }
            List<ModelSource> served = new java.util.ArrayList<>();
            for (String name : names) {
                EngineSpec e = engine.withModel(name).requireServer(null);
                ModelSources.check(new ModelSource.Served(e), HadoopFs.defaults());
                served.add(new ModelSource.Served(e));
            }
            return new EvalJobConfig(served, suitePath, out, limit, sliceSize);
        }
        if (models == null) {
            throw new BadInputException("--model is required (a model source; with --engine openai, the served name)");
        }
        Path cwd = Path.of("").toAbsolutePath();
        List<String> sources = models.stream().map(m -> InputChecks.modelSource(cwd, m)).toList();
        for (int i = 0; i < sources.size(); i++) {
            if (sources.indexOf(sources.get(i)) < i) {
                // Results are grouped by model: one model twice would pool into one row of twice the items.
                throw new BadInputException("--model " + models.get(i) + ": given twice");
            }
        }
        return new EvalJobConfig(InputChecks.models(sources), suitePath, out, limit, sliceSize);
    }
}
