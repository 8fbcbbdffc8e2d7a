package dev.mergeval.jobs.cli;

import dev.mergeval.bench.MergeBenchmark;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.merge.SparkMergeExecutor;
import dev.mergeval.merge.plan.MergeExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaSparkContext;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mergeval bench merge}: merge throughput against a raw-copy baseline in the same run. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Benchmark merge methods on a generated BF16 checkpoint pair against a raw copy.")
final class BenchMergeCommand implements Callable<Integer> {

    @Option(names = "--work", required = true, description = "work directory (inputs are generated once and reused)")
    String work;

    @Option(names = "--size", converter = SizeConverter.class, description = "size of each input (default 2GB)")
    long size = 2_000_000_000L;

    @Option(names = "--methods", split = ",", description = "methods to time (default: linear,ties)")
    List<String> methods = List.of("linear", "ties");

    @Option(names = "--threads", description = "threads of the single-JVM path (default: cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--chunk-elements", description = "elements per input per chunk of element-wise methods"
            + " (default: ${DEFAULT-VALUE})")
    int chunkElements = PlanOptions.DEFAULT_CHUNK_ELEMENTS;

    @Option(names = "--spark-masters", split = ",", paramLabel = "URL",
            description = "also run every method on Spark with each of these masters, e.g. local[1],local[2]")
    List<String> sparkMasters = List.of();

    @Override
    public Integer call() throws IOException {
        Configuration conf = new Configuration();
        List<Supplier<MergeBenchmark.Backend>> backends = new ArrayList<>();
        backends.add(() -> MergeBenchmark.threads(threads, conf));
        for (String master : sparkMasters) {
            backends.add(() -> spark(master));
        }
        List<MergeBenchmark.Row> rows = MergeBenchmark.run(work, size, methods, threads,
                PlanOptions.defaults().withChunkElements(chunkElements), backends, conf, System.err);
        // The goal is against the faster copy: the merge is compared with a copy as parallel as it is.
        double baseline = rows.stream().filter(r -> r.name().startsWith("raw copy"))
                .mapToDouble(MergeBenchmark.Row::seconds).min().orElseThrow();
        System.out.printf("%-24s %10s %10s %12s %10s %14s %14s%n", "run", "seconds", "cpu s", "input GB/s",
                "vs copy", "peak heap MB", "peak RSS MB");
        for (MergeBenchmark.Row r : rows) {
            System.out.printf("%-24s %10.2f %10.2f %12.3f %9.2fx %14d %14d%n", r.name(), r.seconds(), r.cpuSeconds(),
                    r.gbPerSecond(), baseline / r.seconds(), r.peakHeapBytes() >> 20, r.peakRssBytes() >> 20);
        }
        return MergevalCli.EXIT_OK;
    }

    /** A Spark context on {@code master} for the rows of one backend; stopped when they are done. */
    private static MergeBenchmark.Backend spark(String master) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(
                SparkSessions.create("mergeval bench-merge", master).sparkContext());
        SparkMergeExecutor executor = new SparkMergeExecutor(sc, Progress.NONE);
        return new MergeBenchmark.Backend() {
            @Override
            public MergeExecutor executor() {
                return executor;
            }

            @Override
            public void close() {
                sc.stop();
            }
        };
    }
}
