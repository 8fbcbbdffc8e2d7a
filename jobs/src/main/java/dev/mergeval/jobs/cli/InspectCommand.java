package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergeval inspect PATH [--verify]}: what a checkpoint holds, shard by shard. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a checkpoint's tensors (dtype, shape, bytes, parameters) per shard; --verify scans for NaN/Inf.")
final class InspectCommand implements Callable<Integer> {

    private static final int SCAN_CHUNK = 1 << 20;

    @Parameters(index = "0", paramLabel = "PATH", description = "model directory, .safetensors file, or base+adapter")
    String path;

    @Option(names = "--verify", description = "also read every floating-point tensor (float8 included) and report"
            + " NaN/Inf values: exit 2 naming each tensor that has some")
    boolean verify;

    @Override
    public Integer call() {
        try (Checkpoint ckpt = Checkpoint.open(path, HadoopFs.defaults())) {
            Map<String, List<TensorInfo>> byShard = new LinkedHashMap<>();
            for (String name : ckpt.tensorNames()) {
                byShard.computeIfAbsent(ckpt.shardOf(name).path(), k -> new ArrayList<>()).add(ckpt.info(name));
            }
            long totalParams = 0;
            long totalBytes = 0;
            for (Map.Entry<String, List<TensorInfo>> e : byShard.entrySet()) {
                System.out.println(e.getKey());
                for (TensorInfo t : e.getValue()) {
                    System.out.printf("  %-60s %-8s %-20s %,14d B %,14d params%n", t.name(), t.dtype(),
                            Arrays.toString(t.shape()), t.byteLength(), t.numElements());
                    totalParams += t.numElements();
                    totalBytes += t.byteLength();
                }
            }
            System.out.printf("%d tensors in %d shard(s), %,d parameters, %,d bytes%n",
                    ckpt.tensorNames().size(), byShard.size(), totalParams, totalBytes);
            if (verify) {
                List<String> problems = scan(ckpt);
                if (!problems.isEmpty()) {
                    throw new BadInputException(path + ": " + String.join("; ", problems));
                }
                List<ShardFile> shards = ckpt.shardFiles();
                System.out.printf("verified: layout valid in %d shard file(s), no NaN or Inf%n", shards.size());
            }
        }
        return MergevalCli.EXIT_OK;
    }

    private static List<String> scan(Checkpoint ckpt) {
        List<String> problems = new ArrayList<>();
        for (String name : ckpt.tensorNames()) {
            TensorInfo t = ckpt.info(name);
            if (!t.dtype().isFloatingPoint()) {
                continue;
            }
            long nan = 0;
            long inf = 0;
            for (long off = 0; off < t.numElements(); off += SCAN_CHUNK) {
                int n = (int) Math.min(SCAN_CHUNK, t.numElements() - off);
                if (t.dtype().isCodecSupported()) {
                    for (float v : ckpt.readFloats(name, off, n)) {
                        if (Float.isNaN(v)) {
                            nan++;
                        } else if (Float.isInfinite(v)) {
                            inf++;
                        }
                    }
                    continue;
                }
                for (byte b : ckpt.readRaw(name, off, n)) {
                    // float8 has no float32 codec here: its bit patterns, sign aside
                    int bits = b & 0x7f;
                    if (t.dtype() == DType.F8_E4M3) {
                        nan += bits == 0x7f ? 1 : 0;
                    } else if ((bits & 0x7c) == 0x7c) {
                        nan += (bits & 0x03) != 0 ? 1 : 0;
                        inf += (bits & 0x03) == 0 ? 1 : 0;
                    }
                }
            }
            if (nan + inf > 0) {
                problems.add("tensor " + name + " has " + nan + " NaN and " + inf + " Inf values");
            }
        }
        return problems;
    }
}
