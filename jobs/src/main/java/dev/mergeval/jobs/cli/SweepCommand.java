package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.StagingClaim;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.jobs.merge.SparkMergeExecutor;
import dev.mergeval.jobs.sweep.SweepJob;
import dev.mergeval.jobs.sweep.SweepOutput;
import dev.mergeval.lora.SweepAdapters;
import dev.mergeval.sweep.GoalStatus;
import dev.mergeval.sweep.Format;
import dev.mergeval.sweep.MethodComparison;
import dev.mergeval.sweep.SweepSpec;
import dev.mergeval.sweep.SweepTable;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mergeval sweep SPEC.yaml --out DIR}. Exit codes for schedulers: 0 when the sweep finished
 * (whether or not the goal was reached: {@code summary.json} says), 2 for a bad spec or input, 1 for
 * an internal failure; with {@code --require-goal}, 3 when the goal was not reached.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = "Sweep merge methods and ratios between an aligned model and its fine-tunes; evaluate, choose, report.")
final class SweepCommand implements Callable<Integer> {

    /** Exit code of a finished sweep that missed its goal, with {@code --require-goal}. */
    public static final int EXIT_GOAL_MISSED = 3;

    @Parameters(index = "0", paramLabel = "SPEC.yaml")
    Path spec;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "output directory: a local path, file:, hdfs:// or s3a:// (re-runs of the same spec resume in it)")
    String out;

    @Option(names = "--overwrite",
            description = "delete a non-empty output directory first and start afresh (never one holding the sweep's inputs)")
    boolean overwrite;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master, e.g. local[2] or spark://host:7077")
    String master;

    @Option(names = "--require-goal", description = "exit with 3 when no point reaches the spec's goal")
    boolean requireGoal;

    @Override
    public Integer call() {
        return run(InputChecks.sweep(spec), spec, out, overwrite, master, requireGoal, System.out);
    }

    /**
     * Checks the output, then claims it (emptying it with {@code overwrite}) before Spark starts, so
     * that a second run into a busy directory is refused at once and never emptied, then sweeps.
     */
    static int run(SweepSpec spec, Path specFile, String out, boolean overwrite, String master, boolean requireGoal,
            PrintStream stdout) {
        SweepOutput output = SweepOutput.of(spec, out, SparkSessions.hadoopConfiguration());
        output.prepare(overwrite, List.of(specFile.toString()));
        try (StagingClaim claim = output.claim(overwrite)) {
            return sweep(spec, output, out, master, requireGoal, stdout);
        }
    }

    private static int sweep(SweepSpec spec, SweepOutput output, String out, String master, boolean requireGoal,
            PrintStream stdout) {
        SparkSession spark = SparkSessions.create("mergeval sweep " + spec.name(), master);
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            SweepJob.Outcome outcome = SweepJob.runClaimed(spark, spec, output, new RuntimeModelFactory(),
                    id -> new SparkMergeExecutor(sc, Progress.NONE), new ConsoleProgress());
            print(outcome, out, stdout);
            String log = ConsoleLogging.copyTo(OutputLocation.resolve(out, spark.sparkContext().hadoopConfiguration()));
            if (log != null) {
                stdout.printf("log: %s%n", log);
            }
            GoalStatus goal = outcome.selection().goal();
            return requireGoal && goal.state() != GoalStatus.State.REACHED ? EXIT_GOAL_MISSED : MergevalCli.EXIT_OK;
        } finally {
            spark.stop();
        }
    }

    /** The sweep's table, method comparison and recommendation on the console, from the outcome's {@link SweepTable}. */
    private static void print(SweepJob.Outcome outcome, String out, PrintStream w) {
        SweepTable table = outcome.table();
        SweepSpec spec = table.spec();
        String safety = spec.metrics().safety();
        String task = spec.metrics().task();
        String over = spec.metrics().overRefusal();
        w.printf("%-34s %7s %9s %9s %9s%n", "point", "ratio", "refusal", "over-ref", "task");
        for (SweepTable.Row r : table.rows()) {
            w.printf("%-34s %7s %9.3f %9s %9.3f%n", r.point().isMerge() && !r.point().isPostHoc() ? r.point().variant() : r.point().label(),
                    r.point().isMerge() && !r.point().isPostHoc() ? String.format("%.2f", r.point().ratio()) : "-",
                    r.value(safety), over == null ? "-" : String.format("%.3f", r.value(over)), r.value(task));
        }
        w.printf("%n%-14s %-20s %-34s %9s %9s %9s %s%n", "method", "fine-tune", "best point", "refusal", "RR", "TGR",
                "goal");
        for (MethodComparison m : table.methods()) {
            String ft = m.finetuned() == null ? "-" : m.finetuned().substring(m.finetuned().lastIndexOf('/') + 1);
            w.printf("%-14s %-20s %-34s %9.3f %9s %9s %s%n", m.method(), ft, m.bestLabel(), m.refusal(),
                    Format.percent(m.refusalRetention()), Format.percent(m.taskGainRetention()),
                    m.reachesGoal() ? "reached" : "not reached");
        }
        w.printf("%nrecommended: %s%n  %s%n", table.selection().chosenPoint().label(), table.selection().reason());
        w.printf("goal (%s): %s%n", table.selection().goal().state().json(), table.selection().goal().explanation());
        w.printf("points evaluated: %d, reused from earlier runs: %d; outputs in %s (report.html, summary.json, results.csv, results.parquet)%n",
                outcome.evaluated(), outcome.reused(), out);
        if (outcome.loraAdapters() != null) {
            w.printf("lora adapters: %d linear points as PEFT adapters (%s, %s); serve them all with:%n  %s%n",
                    outcome.loraAdapters().entries().size(), SweepAdapters.LIST_FILE, SweepAdapters.SERVE_SCRIPT,
                    outcome.loraAdapters().command());
        }
    }
}
