package dev.mergeval.jobs.merge;

import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.Sha256;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Small BF16 Llama-shaped checkpoint pairs (a base and a seeded fine-tune) on any Hadoop
 * filesystem, the merge configs the distributed tests run, and the output checksums they compare.
 */
final class MergeFixtures {

    /** Four layers, so that a merge has a dozen units once embeddings are split into row ranges. */
    static final SyntheticModels.Shape SHAPE = new SyntheticModels.Shape(4, 64, 160, 4, 2, 512);

    /** Units of at most 16 KiB of output, and shards of 128 KiB: many units, several shards. */
    static final PlanOptions OPTIONS = PlanOptions.defaults().withMaxShardBytes(128 << 10).withMaxUnitBytes(16 << 10);

    private MergeFixtures() {
    }

    /** A checkpoint pair under {@code root}: {@code root/base} and {@code root/tune}. */
    record Pair(String base, String tune) {
    }

    static Pair write(String root, SyntheticModels.Shape shape, Configuration conf) {
        Pair pair = new Pair(root + "/base", root + "/tune");
        SyntheticModels.writeBase(pair.base(), shape, DType.BF16, 7, 96 << 10, conf);
        SyntheticModels.writeFineTune(pair.tune(), shape, DType.BF16, 7, 8, 0.01, 96 << 10, conf);
        return pair;
    }

    /** The methods every distributed path is checked with. */
    static final java.util.List<String> METHODS = java.util.List.of("linear", "dare_ties");

    static String yaml(String method, Pair p) {
        return switch (method) {
            case "linear" -> linear(p);
            case "dare_ties" -> dareTies(p);
            default -> throw new IllegalArgumentException(method);
        };
    }

    static String linear(Pair p) {
        return """
                merge_method: linear
                models:
                  - model: %s
                    parameters: {weight: 0.4}
                  - model: %s
                    parameters: {weight: 0.6}
                dtype: bfloat16
                """.formatted(p.base(), p.tune());
    }

    static String dareTies(Pair p) {
        return oneFineTune("dare_ties", p);
    }

    /** TIES: unlike DARE's masks (keyed by the model references), its bytes depend on the values alone. */
    static String ties(Pair p) {
        return oneFineTune("ties", p);
    }

    private static String oneFineTune(String method, Pair p) {
        return """
                merge_method: %s
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 1.0, density: 0.5}
                dtype: bfloat16
                """.formatted(method, p.base(), p.tune());
    }

    static MergeJob.Request request(String yaml, String outDir) {
        return new MergeJob.Request("test.yaml", yaml, outDir, 42, false, OPTIONS);
    }

    /** Runs {@code mergeval merge CONFIG OUT ARGS...} (exit 0) and returns the output's shard hashes. */
    static Map<String, String> mergeCommand(java.nio.file.Path config, java.nio.file.Path out, String... args) {
        String[] argv = new String[3 + args.length];
        argv[0] = "merge";
        argv[1] = config.toString();
        argv[2] = out.toString();
        System.arraycopy(args, 0, argv, 3, args.length);
        org.junit.jupiter.api.Assertions.assertEquals(0, dev.mergeval.jobs.cli.MergevalCli.run(argv),
                String.join(" ", argv));
        Map<String, String> hashes = shardHashes(out.toString(), new Configuration());
        org.junit.jupiter.api.Assertions.assertFalse(hashes.isEmpty(), "shards in " + out);
        return hashes;
    }

    /** SHA-256 of every {@code *.safetensors} file directly in {@code dir}, by file name. */
    static Map<String, String> shardHashes(String dir, Configuration conf) {
        Path root = new Path(dir);
        Map<String, String> hashes = new TreeMap<>();
        try {
            FileSystem fs = root.getFileSystem(conf);
            for (FileStatus f : fs.listStatus(root)) {
                if (f.getPath().getName().endsWith(".safetensors")) {
                    hashes.put(f.getPath().getName(), Sha256.of(fs, f.getPath()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return hashes;
    }

    static boolean exists(String path, Configuration conf) {
        try {
            Path p = new Path(path);
            return p.getFileSystem(conf).exists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
