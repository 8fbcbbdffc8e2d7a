package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.merge.SparkMergeRunner;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeCommitter;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.PlanOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mergeval merge CONFIG.yaml OUT_DIR}: a mergekit-compatible merge, which also takes
 * {@code mergekit-yaml}'s options (those without a counterpart here are accepted and named as having
 * no effect, {@link MergekitYamlOptions}).
 */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merge checkpoints as a mergekit YAML config says, into an HF-layout OUT_DIR.",
        footer = MergekitYamlOptions.FOOTER)
final class MergeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG.yaml", description = "mergekit merge config")
    Path config;

    @Parameters(index = "1", paramLabel = "OUT_DIR", description = "output directory (file://, hdfs://, s3a://)")
    String outDir;

    @Option(names = "--random-seed", description = "seed for DARE/DELLA (default: ${DEFAULT-VALUE})")
    long seed = KeyedRandom.DEFAULT_SEED;

    @Option(names = "--overwrite", description = "replace an existing complete output")
    boolean overwrite;

    @Option(names = "--max-shard-size", converter = SizeConverter.class,
            description = "largest output shard, e.g. 5GB, 2GiB, bytes (default 5GB)")
    Long maxShardSize;

    @Option(names = "--out-shard-size", converter = SizeConverter.Kmb.class, paramLabel = "SIZE",
            description = "largest output shard in bytes as mergekit-yaml reads it: a whole number, with K, M or B for "
                    + "thousands, millions or billions (5B is 5GB)")
    Long outShardSize;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "copy the tokenizer's files (and generation_config.json) into OUT_DIR (default: true); a "
                    + "tokenizer rebuilt for tokenizer_source is written either way")
    boolean copyTokenizer = true;

    @Option(names = "--write-model-card", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "write README.md, mergekit's model card (default: true)")
    boolean writeModelCard = true;

    @Option(names = "--allow-crimes", negatable = true,
            description = "merge models whose config.json name different architectures (refused otherwise)")
    boolean allowCrimes;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Mixin
    MergekitYamlOptions mergekitYaml = new MergekitYamlOptions();

    @Option(names = "--master", description = "Spark master URL (e.g. local[2], spark://host:7077); "
            + "without it (and outside spark-submit) units run on threads in this JVM")
    String master;

    @Option(names = {"--threads", "--num-threads", "-j"},
            description = "threads of the single-JVM path (default: cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--digest", paramLabel = "xxh64|sha256",
            description = "digest of every input and output shard in the provenance: xxh64 (fast, checkable "
                    + "with xxhsum) or sha256 (default: ${DEFAULT-VALUE})")
    String digest = FileDigest.XXH64.id();

    @Override
    public Integer call() {
        InputChecks.atLeast("--threads", threads, 1);
        String yaml;
        try {
            yaml = Files.readString(config, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BadInputException(config + ": cannot read merge config (" + e.getMessage() + ")");
        }
        if (maxShardSize != null && outShardSize != null) {
            throw new BadInputException("give the shard size once: --max-shard-size or --out-shard-size");
        }
        mergekitYaml.notes().forEach(note -> System.err.println("mergeval: " + note));
        long shardBytes = maxShardSize != null ? maxShardSize
                : outShardSize != null ? outShardSize : PlanOptions.DEFAULT_MAX_SHARD_BYTES;
        MergeJob.Request request = new MergeJob.Request(config.toString(), yaml, outDir, seed, overwrite,
                PlanOptions.defaults().withMaxShardBytes(shardBytes).withMixedArchitectures(allowCrimes),
                config.toAbsolutePath().toString())
                .withDigest(FileDigest.parse(digest, "--digest"))
                .withFiles(new MergeJob.OutputFiles(copyTokenizer, writeModelCard));
        Progress progress = quiet ? Progress.NONE : new ConsoleProgress();
        MergeJob.Outcome outcome;
        if (master != null || SparkSessions.underSparkSubmit()) {
            outcome = SparkMergeRunner.run(request, master, progress);
        } else {
            // The spark.hadoop.* settings of this JVM (an S3A endpoint and credentials), as a Spark merge
            // gets them; one set for planning and executing: each new one parses Hadoop's defaults again.
            Configuration conf = HadoopFs.defaults();
            outcome = MergeJob.run(request, new LocalMergeExecutor(threads, conf, progress), conf);
        }
        print(outcome);
        return MergevalCli.EXIT_OK;
    }

    static void print(MergeJob.Outcome outcome) {
        System.out.printf("merged %d tensors in %d units with %s into %s (%.1f s)%n",
                outcome.plan().tensors().size(), outcome.plan().units().size(),
                outcome.plan().inputs().size() + " input(s)", outcome.outDir(), outcome.wallMillis() / 1000.0);
        System.out.println("  phases (ms): " + outcome.phaseMillis());
        for (MergeCommitter.WrittenShard s : outcome.shards()) {
            System.out.printf("  %s  %,d bytes  %s %s%n", s.fileName(), s.bytes(), s.digest().id(), s.hex());
        }
    }
}
