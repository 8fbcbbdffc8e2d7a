package dev.mergeval.bench;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Merge throughput against a raw-copy baseline measured in the same run: read both inputs whole,
 * write one output of the same size. Throughput is GB/s of input read (two inputs of
 * {@code size} bytes each), as the issue defines it.
 */
public final class MergeBenchmark {

    /** One measured configuration. */
    public record Row(String name, double seconds, long inputBytes) {
        public double gbPerSecond() {
            return inputBytes / seconds / 1e9;
        }
    }

    private MergeBenchmark() {
    }

    /**
     * Generates (or reuses) a BF16 base/fine-tune pair of about {@code targetBytes} each under
     * {@code workDir}, then times the raw copy and each method with {@code executors}.
     */
    public static List<Row> run(String workDir, long targetBytes, List<String> methods,
            Function<String, MergeExecutor> executorFor, Configuration conf, PrintStream log) throws IOException {
        SyntheticModels.Shape shape = shapeFor(targetBytes);
        String base = workDir + "/base";
        String tune = workDir + "/tune";
        FileSystem fs = new Path(workDir).getFileSystem(conf);
        long shard = 500_000_000L;
        if (!fs.exists(new Path(base, "config.json"))) {
            log.printf("generating %s (%,d parameters, BF16)...%n", base, shape.parameters());
            SyntheticModels.writeBase(base, shape, DType.BF16, 1, shard, conf);
        }
        if (!fs.exists(new Path(tune, "config.json"))) {
            log.printf("generating %s...%n", tune);
            SyntheticModels.writeFineTune(tune, shape, DType.BF16, 1, 2, 0.002, shard, conf);
        }
        long inputBytes = sizeOf(base, conf) + sizeOf(tune, conf);
        List<Row> rows = new ArrayList<>();
        rows.add(time("raw copy", inputBytes, () -> rawCopy(base, tune, workDir + "/copy", conf)));
        for (String method : methods) {
            String yaml = yamlFor(method, base, tune);
            MergeExecutor executor = executorFor.apply(method);
            String out = workDir + "/out-" + method;
            MergeJob.Outcome[] outcome = new MergeJob.Outcome[1];
            rows.add(time(method + " " + executor.describe(), inputBytes, () -> outcome[0] = MergeJob.run(
                    new MergeJob.Request("bench", yaml, out, 0, true, PlanOptions.defaults().withMaxShardBytes(shard)),
                    executor, conf)));
            log.printf("%s phases (ms): %s%n", method, outcome[0].phaseMillis());
        }
        return rows;
    }

    /** The executor the CLI benchmark uses by default: threads in this JVM. */
    public static MergeExecutor threads(int threads, Configuration conf) {
        return new LocalMergeExecutor(threads, conf, Progress.NONE);
    }

    static SyntheticModels.Shape shapeFor(long targetBytes) {
        // Llama-like proportions at width 2048; layers chosen to reach the size in BF16.
        SyntheticModels.Shape one = new SyntheticModels.Shape(1, 2048, 5632, 16, 4, 32000);
        long perLayer = new SyntheticModels.Shape(2, 2048, 5632, 16, 4, 32000).parameters() - one.parameters();
        long fixed = one.parameters() - perLayer;
        int layers = (int) Math.max(1, (targetBytes / 2 - fixed) / perLayer);
        return new SyntheticModels.Shape(layers, 2048, 5632, 16, 4, 32000);
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

    private static long sizeOf(String model, Configuration conf) {
        try (Checkpoint c = Checkpoint.open(model, conf)) {
            return c.shardFiles().stream().mapToLong(ShardFile::length).sum();
        }
    }

    /** Reads every shard of both inputs and writes one output as large as one input. */
    private static void rawCopy(String base, String tune, String out, Configuration conf) {
        try {
            Path outDir = new Path(out);
            FileSystem fs = outDir.getFileSystem(conf);
            fs.delete(outDir, true);
            byte[] buf = new byte[1 << 20];
            List<ShardFile> baseShards;
            List<ShardFile> tuneShards;
            try (Checkpoint b = Checkpoint.open(base, conf); Checkpoint t = Checkpoint.open(tune, conf)) {
                baseShards = b.shardFiles();
                tuneShards = t.shardFiles();
            }
            for (int i = 0; i < baseShards.size(); i++) {
                Path a = new Path(baseShards.get(i).path());
                Path b = new Path(tuneShards.get(i).path());
                try (InputStream ia = a.getFileSystem(conf).open(a); InputStream ib = b.getFileSystem(conf).open(b);
                        OutputStream os = fs.create(new Path(outDir, a.getName()), true)) {
                    int n;
                    while ((n = ia.read(buf)) > 0) {
                        os.write(buf, 0, n);
                        ib.readNBytes(buf, 0, n);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Row time(String name, long inputBytes, Runnable work) {
        long start = System.nanoTime();
        work.run();
        return new Row(name, (System.nanoTime() - start) / 1e9, inputBytes);
    }
}
