package dev.mergeval.jobs.cli;

import dev.mergeval.bench.MergeBenchmark;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.merge.SparkMergeExecutor;
import dev.mergeval.merge.plan.MergeExecutor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
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

    @Option(names = "--repeats", description = "rounds of copies and merges; with more than one the table gives"
            + " medians and ranges (default: ${DEFAULT-VALUE})")
    int repeats = 1;

    @Override
    public Integer call() throws IOException {
        InputChecks.atLeast("--threads", threads, 1);
        InputChecks.atLeast("--chunk-elements", chunkElements, 1);
        InputChecks.atLeast("--repeats", repeats, 1);
        MergeBenchmark.checkSize(size);
        MergeBenchmark.checkMethods(methods);
        sparkMasters.forEach(master -> SparkSessions.checkMaster("--spark-masters", master));
        Configuration conf = new Configuration();
        List<Supplier<MergeBenchmark.Backend>> backends = new ArrayList<>();
        backends.add(() -> MergeBenchmark.threads(threads, conf));
        for (String master : sparkMasters) {
            backends.add(() -> spark(master));
        }
        List<MergeBenchmark.Row> rows = MergeBenchmark.run(work, size, methods, threads,
                PlanOptions.defaults().withChunkElements(chunkElements), backends, repeats, conf, System.err);
        print(rows);
        return MergevalCli.EXIT_OK;
    }

    /**
     * One line per configuration: medians over the rounds with [min-max] where there are several.
     * Ratios are taken within each round, against that round's copy (the faster of the two, as
     * parallel as the merge): {@code vs copy} in wall time, {@code cpu vs copy} in process CPU time,
     * the steadier figure on a shared machine. Then the ratios the goals name.
     */
    private static void print(List<MergeBenchmark.Row> rows) {
        Map<Integer, MergeBenchmark.Row> copies = new LinkedHashMap<>();
        for (MergeBenchmark.Row r : rows) {
            if (r.name().startsWith("raw copy")) {
                copies.merge(r.round(), r, (a, b) -> a.seconds() <= b.seconds() ? a : b);
            }
        }
        Map<String, List<MergeBenchmark.Row>> byName = new LinkedHashMap<>();
        rows.forEach(r -> byName.computeIfAbsent(r.name(), k -> new ArrayList<>()).add(r));
        System.out.printf("%-34s %20s %18s %18s %10s %18s %18s %13s %12s%n", "run", "seconds", "cpu s", "of which sys s",
                "input GB/s", "vs copy", "cpu vs copy", "peak heap MB", "peak RSS MB");
        for (Map.Entry<String, List<MergeBenchmark.Row>> e : byName.entrySet()) {
            List<MergeBenchmark.Row> rs = e.getValue();
            System.out.printf("%-34s %20s %18s %18s %10.3f %18s %18s %13d %12d%n", e.getKey(),
                    spread(rs, MergeBenchmark.Row::seconds, "%.2f", ""),
                    spread(rs, MergeBenchmark.Row::cpuSeconds, "%.2f", ""),
                    spread(rs, MergeBenchmark.Row::sysSeconds, "%.2f", ""),
                    median(rs.stream().map(MergeBenchmark.Row::gbPerSecond).toList()),
                    spread(rs, r -> copies.get(r.round()).seconds() / r.seconds(), "%.2f", "x"),
                    spread(rs, r -> copies.get(r.round()).cpuSeconds() / r.cpuSeconds(), "%.2f", "x"),
                    rs.stream().mapToLong(MergeBenchmark.Row::peakHeapBytes).max().orElse(0) >> 20,
                    rs.stream().mapToLong(MergeBenchmark.Row::peakRssBytes).max().orElse(0) >> 20);
        }
        List<String> names = new ArrayList<>(byName.keySet());
        for (String ties : names) {
            String linear = ties.replaceFirst("^ties ", "linear ");
            if (ties.startsWith("ties ") && !ties.equals(linear) && byName.containsKey(linear)) {
                System.out.printf("%s / %s: time %s, cpu %s%n", ties, linear,
                        ratio(byName.get(ties), byName.get(linear), MergeBenchmark.Row::seconds),
                        ratio(byName.get(ties), byName.get(linear), MergeBenchmark.Row::cpuSeconds));
            }
        }
        for (String two : names) {
            String one = two.replace("local[2]", "local[1]");
            if (two.contains("local[2]") && byName.containsKey(one)) {
                System.out.printf("%s vs %s: speed-up %s%n", two, one,
                        ratio(byName.get(one), byName.get(two), MergeBenchmark.Row::seconds));
            }
        }
    }

    /** Median of {@code a / b} over the rounds both were measured in, with the range. */
    private static String ratio(List<MergeBenchmark.Row> a, List<MergeBenchmark.Row> b,
            ToDoubleFunction<MergeBenchmark.Row> f) {
        Map<Integer, MergeBenchmark.Row> bs = new LinkedHashMap<>();
        b.forEach(r -> bs.put(r.round(), r));
        List<MergeBenchmark.Row> paired = a.stream().filter(r -> bs.containsKey(r.round())).toList();
        return spread(paired, r -> f.applyAsDouble(r) / f.applyAsDouble(bs.get(r.round())), "%.2f", "x");
    }

    private static String spread(List<MergeBenchmark.Row> rows, ToDoubleFunction<MergeBenchmark.Row> f,
            String format, String unit) {
        List<Double> values = rows.stream().map(f::applyAsDouble).sorted().toList();
        String median = String.format(format, median(values)) + unit;
        if (values.size() == 1) {
            return median;
        }
        return median + " [" + String.format(format, values.get(0)) + "-"
                + String.format(format, values.get(values.size() - 1)) + "]";
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
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
