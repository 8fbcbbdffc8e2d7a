package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.merge.MergeConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A whole merge: plan on this JVM, execute the units on the given {@link MergeExecutor}, commit
 * the shards, auxiliary files and provenance, and publish atomically.
 *
 * <p>The staging area is named after the plan id, so re-running a failed or killed job with the
 * same config and inputs reuses the parts that were finished; anything else about it starts over.
 */
public final class MergeJob {

    /** The config as written by the user, for {@code mergekit_config.yml}. */
    public static final String CONFIG_FILE = "mergekit_config.yml";

    /**
     * @param configSource where the config came from, for error messages
     * @param configYaml the mergekit YAML text
     * @param outDir the output directory URI
     * @param seed seed of the counter-based randomness
     * @param overwrite replace a complete existing output
     * @param options how to cut the work
     */
    public record Request(String configSource, String configYaml, String outDir, long seed, boolean overwrite,
            PlanOptions options) {
    }

    /**
     * What was published, and where the time went: planning, the units, hashing the inputs for
     * provenance, assembling the shards and publishing.
     */
    public record Outcome(MergePlan plan, String outDir, List<MergeCommitter.WrittenShard> shards, long wallMillis,
            Map<String, Long> phaseMillis) {
    }

    private MergeJob() {
    }

    public static MergePlan plan(Request request, Configuration conf) {
        MergeConfig config = MergeConfig.parse(request.configYaml(), request.configSource());
        OutputPublisher publisher = OutputPublisher.forPath(request.outDir(), conf);
        publisher.checkDestination(publisher.outputPath(request.outDir()), request.overwrite());
        return MergePlanner.plan(config, request.seed(), request.options(), conf);
    }

    public static Outcome run(Request request, MergeExecutor executor, Configuration conf) {
        long start = System.nanoTime();
        Map<String, Long> phases = new LinkedHashMap<>();
        MergeConfig config = MergeConfig.parse(request.configYaml(), request.configSource());
        MergePlan plan = plan(request, conf);
        long mark = lap(phases, "plan", start);
        OutputPublisher publisher = OutputPublisher.forPath(request.outDir(), conf);
        String staging = publisher.stage(request.outDir(), plan.planId().substring(0, 16)).toString();
        String parts = new Path(staging, "_parts").toString();

        List<UnitResult> results = executor.execute(plan, parts);
        mark = lap(phases, "execute", mark);
        Map<String, List<MergeProvenance.FileHash>> inputHashes = hashInputs(plan, executor, conf);
        mark = lap(phases, "hash_inputs", mark);
        List<MergeCommitter.WrittenShard> shards = MergeCommitter.assemble(plan, results, staging, conf,
                Runtime.getRuntime().availableProcessors());
        mark = lap(phases, "assemble", mark);
        try {
            FileSystem fs = new Path(staging).getFileSystem(conf);
            fs.delete(new Path(parts), true);
            String copyRoot;
            try (Checkpoint source = Checkpoint.open(plan.uriOf(plan.copySource()), conf)) {
                copyRoot = source.root();
            }
            ModelFiles.copyAuxiliary(copyRoot, staging, outputDtype(plan), conf);
            write(fs, new Path(staging, CONFIG_FILE), request.configYaml());
            long wallMillis = (System.nanoTime() - start) / 1_000_000;
            MergeProvenance provenance = new MergeProvenance(plan, config.mergeMethod(), config.parameters(),
                    inputHashes, shards, executor.describe(), wallMillis);
            // Written last: its presence marks the staged output complete.
            write(fs, new Path(staging, OutputPublisher.PROVENANCE_FILE), provenance.toJson());
            publisher.publish(new Path(staging), publisher.outputPath(request.outDir()), request.overwrite());
            lap(phases, "publish", mark);
            return new Outcome(plan, request.outDir(), shards, (System.nanoTime() - start) / 1_000_000, phases);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long lap(Map<String, Long> phases, String phase, long since) {
        long now = System.nanoTime();
        phases.put(phase, (now - since) / 1_000_000);
        return now;
    }

    /** The dtype recorded as {@code torch_dtype}: that of the merged tensors. */
    static DType outputDtype(MergePlan plan) {
        for (OutputTensor t : plan.tensors()) {
            if (t.merged()) {
                return t.dtype();
            }
        }
        return plan.tensors().isEmpty() ? DType.F32 : plan.tensors().get(0).dtype();
    }

    private static Map<String, List<MergeProvenance.FileHash>> hashInputs(MergePlan plan, MergeExecutor executor,
            Configuration conf) {
        Map<String, List<ShardFile>> shardFiles = new LinkedHashMap<>();
        List<String> files = new ArrayList<>();
        for (PlanInput in : plan.inputs()) {
            try (Checkpoint ckpt = Checkpoint.open(in.uri(), conf)) {
                shardFiles.put(in.ref(), ckpt.shardFiles());
                ckpt.shardFiles().forEach(s -> files.add(s.path()));
            }
        }
        List<String> hashes = executor.sha256(files);
        Map<String, List<MergeProvenance.FileHash>> result = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, List<ShardFile>> e : shardFiles.entrySet()) {
            List<MergeProvenance.FileHash> list = new ArrayList<>();
            for (ShardFile s : e.getValue()) {
                list.add(new MergeProvenance.FileHash(s.path(), s.length(), hashes.get(i++)));
            }
            result.put(e.getKey(), list);
        }
        return result;
    }

    private static void write(FileSystem fs, Path path, String text) throws IOException {
        try (OutputStream out = fs.create(path, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }
}
