package dev.mergeval.jobs.bench;

import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.ExecutorModels;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/**
 * Throughput of an AdvBench evaluation ({@code mergeval bench eval}): the same evaluation run by
 * {@link EvalJob} on one Spark master after another in this JVM, each with a fresh session and no
 * model loaded yet, so every run pays its own model loads.
 *
 * <p>Shares are of the run's core time (wall time x cores): {@code load} is model loading,
 * {@code generate} is running units once their model is loaded (generation and the keyword judge),
 * and the rest is Spark scheduling, planning, writing outputs and idle cores.
 */
public final class EvalBenchmark {

    /**
     * @param model        model source, as for {@code mergeval eval}
     * @param advbench     AdvBench {@code harmful_behaviors.csv}
     * @param limit        prompts per run (the first {@code limit} of the seeded sample)
     * @param sliceSize    prompts per unit of work
     * @param maxNewTokens generated tokens per prompt
     * @param work         where suites and outputs of each run go
     */
    public record Config(String model, String advbench, int limit, int sliceSize, int maxNewTokens, Path work) {
    }

    /**
     * One run: the master, its cores (Spark's default parallelism), the job's summary and the CPU
     * time of this JVM during the job (with a local master, all of the run's CPU time; on a shared
     * machine the figure that does not count waiting for a core).
     */
    public record Run(String master, int cores, EvalJob.Summary summary, double cpuSeconds) {

        public double promptsPerSecond() {
            return summary.records() / summary.wallSeconds();
        }

        public double promptsPerCpuSecond() {
            return summary.records() / cpuSeconds;
        }

        public double loadShare() {
            return summary.loadSeconds() / (cores * summary.wallSeconds());
        }

        public double generateShare() {
            return summary.generateSeconds() / (cores * summary.wallSeconds());
        }
    }

    private EvalBenchmark() {
    }

    /** Runs the evaluation on {@code master}; {@code label} names the run's work directory. */
    public static Run run(Config config, String master, String label, int limit) {
        Path dir = config.work().resolve(label);
        String suite = writeSuite(config, dir, limit);
        SparkSession spark = SparkSession.builder().appName("mergeval bench-eval " + label).master(master)
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            if (!spark.sparkContext().master().equals(master)) {
                throw new IllegalStateException("a Spark session on " + spark.sparkContext().master()
                        + " is already running; bench-eval needs its own sessions");
            }
            // Local masters keep models in this JVM: start each run without any.
            ExecutorModels.closeAll();
            ModelSource model = ModelSource.parse(config.model(), spark.sparkContext().hadoopConfiguration());
            long cpu = processCpuNanos();
            EvalJob.Summary s = EvalJob.run(spark, new EvalJobConfig(List.of(model), suite,
                    dir.resolve("out").toString(), -1, config.sliceSize()), new RuntimeModelFactory(), true);
            return new Run(master, spark.sparkContext().defaultParallelism(), s, (processCpuNanos() - cpu) / 1e9);
        } finally {
            spark.stop();
            ExecutorModels.closeAll();
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** A one-task suite: AdvBench, keyword judge, {@code limit} prompts, greedy decoding. */
    private static String writeSuite(Config config, Path dir, int limit) {
        Path csv = Path.of(config.advbench());
        String data = config.advbench().contains("://") ? config.advbench() : csv.toAbsolutePath().toString();
        try {
            Files.createDirectories(dir);
            Path suite = dir.resolve("suite.yaml");
            Files.writeString(suite, String.join("\n",
                    "name: bench-eval",
                    "seed: 1",
                    "defaults:",
                    "  generation: {max_new_tokens: " + config.maxNewTokens() + "}",
                    "tasks:",
                    "  - name: advbench",
                    "    dataset: {kind: advbench, path: " + yamlQuoted(data) + "}",
                    "    judge: keyword",
                    "    limit: " + limit,
                    ""));
            return suite.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String yamlQuoted(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
