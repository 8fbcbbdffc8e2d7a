package dev.mergeval.bench;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.DigestCache;
import dev.mergeval.common.Parallel;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Merge throughput against a raw-copy baseline measured in the same run: read both inputs whole,
 * write one output of the same size. Throughput is GB/s of input read (two inputs of
 * {@code size} bytes each), as the issue defines it.
 *
 * <p>The copy goes through the same raw local filesystem as the merge, once on one thread and once
 * with one thread per shard pair up to the merge's thread count, so the merge is compared with a
 * copy that is as parallel as it is. Each row also reports the peak heap in use (sum of the heap
 * pools' peak usage, reset before the row) and the peak resident set ({@code VmHWM}, reset through
 * {@code /proc/self/clear_refs} where the kernel allows), to show that a merge's memory follows the
 * work unit, not the checkpoint.
 */
public final class MergeBenchmark {

    /**
     * One measured configuration in one round ({@code round} counts from 0). {@code sysSeconds} is
     * the part of {@code cpuSeconds} spent in the kernel (-1 where {@code /proc} does not say): on
     * a virtual machine whose host reclaims freed guest memory, writing a fresh file's pages there
     * can cost many times the copy of its bytes, and this column shows it.
     */
    public record Row(int round, String name, double seconds, double cpuSeconds, double sysSeconds, long inputBytes,
            long peakHeapBytes, long peakRssBytes) {
        public double gbPerSecond() {
            return inputBytes / seconds / 1e9;
        }
    }

    private MergeBenchmark() {
    }

    /**
     * Where merges run in a benchmark: opened before its rows are timed and closed after, so that
     * backends which own a process-wide resource (a Spark context) can follow each other.
     */
    public interface Backend extends AutoCloseable {
        MergeExecutor executor();

        @Override
        void close();
    }

    /**
     * Generates (or reuses) a BF16 base/fine-tune pair of about {@code targetBytes} each under
     * {@code workDir}, then, {@code rounds} times, times the raw copy and each method on each
     * backend, so that every merge has copies measured beside it under the same load.
     *
     * <p>Before each merge the inputs' remembered digests are forgotten ({@link DigestCache}), so
     * every merge row pays for hashing its inputs as a first merge of new models does; after the
     * first method on the first backend the same merge runs once more with the digests remembered
     * (row suffix {@value #CACHED}), as a sweep's later points and a second merge of the same models
     * run.
     */
    public static List<Row> run(String workDir, long targetBytes, List<String> methods, int threads,
            PlanOptions options, List<Supplier<Backend>> backends, int rounds, Configuration conf, PrintStream log)
            throws IOException {
        SyntheticModels.Shape shape = shapeFor(targetBytes);
        String base = workDir + "/base-" + shape.layers() + "L";
        String tune = workDir + "/tune-" + shape.layers() + "L";
        FileSystem fs = HadoopFs.get(new Path(workDir), conf);
        long shard = 500_000_000L;
        if (!fs.exists(new Path(base, "config.json"))) {
            log.printf("generating %s (%,d parameters, BF16)...%n", base, shape.parameters());
            SyntheticModels.writeBase(base, shape, DType.BF16, 1, shard, conf);
        }
        if (!fs.exists(new Path(tune, "config.json"))) {
            log.printf("generating %s...%n", tune);
            SyntheticModels.writeFineTune(tune, shape, DType.BF16, 1, 2, 0.002, shard, conf);
        }
        List<ShardFile> inputs = new ArrayList<>(shardFiles(base, conf));
        inputs.addAll(shardFiles(tune, conf));
        long inputBytes = inputs.stream().mapToLong(ShardFile::length).sum();
        List<Row> rows = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            int r = round;
            rows.add(time(r, "raw copy 1 thread", inputBytes, () -> rawCopy(base, tune, workDir + "/copy", 1, conf)));
            if (threads > 1) {
                rows.add(time(r, "raw copy " + threads + " threads", inputBytes,
                        () -> rawCopy(base, tune, workDir + "/copy", threads, conf)));
            }
            boolean first = true;
            for (Supplier<Backend> opener : backends) {
                try (Backend backend = opener.get()) {
                    MergeExecutor executor = backend.executor();
                    for (String method : methods) {
                        String name = method + " " + executor.describe();
                        inputs.forEach(f -> DigestCache.forget(java.nio.file.Path.of(new Path(f.path()).toUri().getPath())));
                        rows.add(merge(r, name, method, base, tune, workDir, shard, inputBytes, options, executor,
                                conf, log));
                        if (first) {
                            rows.add(merge(r, name + CACHED, method, base, tune, workDir, shard, inputBytes, options,
                                    executor, conf, log));
                            first = false;
                        }
                    }
                }
            }
        }
        return rows;
    }

    /** Suffix of the row name of a merge whose inputs' digests were remembered from the merge before. */
    public static final String CACHED = ", digests cached";

    private static Row merge(int round, String name, String method, String base, String tune, String workDir,
            long shard, long inputBytes, PlanOptions options, MergeExecutor executor, Configuration conf,
            PrintStream log) {
        String yaml = yamlFor(method, base, tune);
        String out = workDir + "/out-" + method;
        MergeJob.Outcome[] outcome = new MergeJob.Outcome[1];
        // The previous output is deleted first, inside the timing, as the raw copy deletes its own:
        // both then write into memory just freed, not into pages a virtual machine's host may have
        // taken back, which cost a host fault each (many seconds per GB, seen as sys time).
        Row row = time(round, name, inputBytes, () -> {
            delete(out, conf);
            outcome[0] = MergeJob.run(new MergeJob.Request("bench", yaml, out, 0, false,
                    options.withMaxShardBytes(shard)), executor, conf);
        });
        log.printf("round %d: %s phases (ms): %s%n", round + 1, name, outcome[0].phaseMillis());
        return row;
    }

    private static void delete(String dir, Configuration conf) {
        try {
            Path p = new Path(dir);
            HadoopFs.get(p, conf).delete(p, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }

    /** The single-JVM path: threads in this JVM. */
    public static Backend threads(int threads, Configuration conf) {
        LocalMergeExecutor executor = new LocalMergeExecutor(threads, conf, Progress.NONE);
        return new Backend() {
            @Override
            public MergeExecutor executor() {
                return executor;
            }

            @Override
            public void close() {
            }
        };
    }

    static SyntheticModels.Shape shapeFor(long targetBytes) {
        // Llama-like proportions at width 2048; layers chosen to reach the size in BF16.
        SyntheticModels.Shape one = new SyntheticModels.Shape(1, 2048, 5632, 16, 4, 32000);
        long perLayer = new SyntheticModels.Shape(2, 2048, 5632, 16, 4, 32000).parameters() - one.parameters();
        long fixed = one.parameters() - perLayer;
        if (targetBytes < one.parameters() * 2) {
            throw new BadInputException("--size must be at least " + one.parameters() * 2 + " bytes (one layer of the"
                    + " benchmark's 2048-wide Llama shape in BF16), got " + targetBytes);
        }
        int layers = (int) ((targetBytes / 2 - fixed) / perLayer);
        return new SyntheticModels.Shape(layers, 2048, 5632, 16, 4, 32000);
    }

    /** Refuses a {@code --size} below one layer of the generated shape, before anything is generated. */
    public static void checkSize(long targetBytes) {
        shapeFor(targetBytes);
    }

    /** Refuses a method whose config {@link #run} could not merge, before anything is generated or timed. */
    public static void checkMethods(List<String> methods) {
        for (String method : methods) {
            MergeConfig.parse(yamlFor(method, "base", "fine-tune"), "--methods " + method);
        }
    }

    static String yamlFor(String method, String base, String tune) {
        return switch (method) {
            case "linear" -> """
                    merge_method: linear
                    models:
                      - model: %s
                        parameters: {weight: 0.5}
                      - model: %s
                        parameters: {weight: 0.5}
                    """.formatted(base, tune);
            case "slerp" -> """
                    merge_method: slerp
                    base_model: %s
                    models: [{model: %s}, {model: %s}]
                    parameters: {t: 0.5}
                    """.formatted(base, base, tune);
            default -> """
                    merge_method: %s
                    base_model: %s
                    models:
                      - model: %s
                        parameters: {weight: 1.0, density: 0.5}
                    """.formatted(method, base, tune);
        };
    }

    private static List<ShardFile> shardFiles(String model, Configuration conf) {
        try (Checkpoint c = Checkpoint.open(model, conf)) {
            return c.shardFiles();
        }
    }

    /**
     * Reads every shard of both inputs and writes one output as large as one input, shard pairs on
     * {@code threads} threads.
     */
    private static void rawCopy(String base, String tune, String out, int threads, Configuration conf) {
        Path outDir = new Path(out);
        FileSystem fs = HadoopFs.get(outDir, conf);
        List<ShardFile> baseShards;
        List<ShardFile> tuneShards;
        try (Checkpoint b = Checkpoint.open(base, conf); Checkpoint t = Checkpoint.open(tune, conf)) {
            baseShards = b.shardFiles();
            tuneShards = t.shardFiles();
        }
        try {
            fs.delete(outDir, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Callable<Void>> copies = new ArrayList<>();
        for (int i = 0; i < baseShards.size(); i++) {
            Path a = new Path(baseShards.get(i).path());
            Path b = new Path(tuneShards.get(i).path());
            copies.add(() -> copyPair(a, b, new Path(outDir, a.getName()), fs, conf));
        }
        Parallel.call(copies, threads);
    }

    private static Void copyPair(Path a, Path b, Path out, FileSystem outFs, Configuration conf) throws IOException {
        byte[] buf = new byte[1 << 20];
        try (InputStream ia = HadoopFs.get(a, conf).open(a); InputStream ib = HadoopFs.get(b, conf).open(b);
                OutputStream os = outFs.create(out, true)) {
            int n;
            while ((n = ia.read(buf)) > 0) {
                os.write(buf, 0, n);
                ib.readNBytes(buf, 0, n);
            }
        }
        return null;
    }

    private static Row time(int round, String name, long inputBytes, Runnable work) {
        System.gc();
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        resetPeakRss();
        long cpuStart = processCpuNanos();
        long sysStart = processSysTicks();
        long start = System.nanoTime();
        work.run();
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = (processCpuNanos() - cpuStart) / 1e9;
        long sysEnd = processSysTicks();
        double sysSeconds = sysStart < 0 || sysEnd < 0 ? -1 : (sysEnd - sysStart) / (double) CLOCK_TICKS;
        long peakHeap = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
        return new Row(round, name, seconds, cpuSeconds, sysSeconds, inputBytes, peakHeap, peakRss());
    }

    /**
     * CPU time of this process (all threads, GC and JIT included), or -1 if the JVM does not say:
     * on a shared machine it shows the work done, which wall time under load does not.
     */
    private static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    /** {@code USER_HZ}, the unit of {@code /proc/self/stat}'s times: 100 on every Linux port Java runs on. */
    private static final int CLOCK_TICKS = 100;

    /** Kernel-mode CPU time of this process in clock ticks ({@code stime}), or -1 where there is no {@code /proc}. */
    private static long processSysTicks() {
        try {
            String stat = Files.readString(java.nio.file.Path.of("/proc/self/stat"));
            // Fields after the command name, which ends at the last ')': state is field 3, stime field 15.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Resets {@code VmHWM} to the current RSS (Linux 4.0+); elsewhere the peak stays since start. */
    private static void resetPeakRss() {
        try {
            Files.writeString(java.nio.file.Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // Not Linux, or not allowed: the peak then covers the whole process lifetime.
        }
    }

    /** {@code VmHWM} of this process in bytes, or -1 where there is no {@code /proc}. */
    static long peakRss() {
        try {
            for (String line : Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
