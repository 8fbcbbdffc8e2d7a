package dev.mergeval.jobs.cli;

import dev.mergeval.bench.MergeBenchmark;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mergeval bench-merge}: merge throughput against a raw-copy baseline in the same run. */
@Command(name = "bench-merge", mixinStandardHelpOptions = true,
        description = "Benchmark merge methods on a generated BF16 checkpoint pair against a raw copy.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--work", required = true, description = "work directory (inputs are generated once and reused)")
    String work;

    @Option(names = "--size", converter = SizeConverter.class, description = "size of each input (default 2GB)")
    long size = 2_000_000_000L;

    @Option(names = "--methods", split = ",", description = "methods to time (default: linear,ties)")
    List<String> methods = List.of("linear", "ties");

    @Option(names = "--threads", description = "threads of the single-JVM path (default: cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() throws IOException {
        Configuration conf = new Configuration();
        List<MergeBenchmark.Row> rows = MergeBenchmark.run(work, size, methods,
                m -> MergeBenchmark.threads(threads, conf), conf, System.err);
        double baseline = rows.get(0).seconds();
        System.out.printf("%-24s %10s %12s %10s%n", "run", "seconds", "input GB/s", "vs copy");
        for (MergeBenchmark.Row r : rows) {
            System.out.printf("%-24s %10.2f %12.3f %9.2fx%n", r.name(), r.seconds(), r.gbPerSecond(),
                    baseline / r.seconds());
        }
        return MergevalCli.EXIT_OK;
    }
}
