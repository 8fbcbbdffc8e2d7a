package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.checkpoint.StagingClaim;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Progress;
import dev.mergeval.common.Sha256;
import dev.mergeval.merge.AnalysisRunner;
import dev.mergeval.merge.ChatTemplates;
import dev.mergeval.merge.EmbeddingRows;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.MergeLayout;
import dev.mergeval.merge.ModelCard;
import dev.mergeval.merge.OutputTokenizer;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.MergeProvenance;
import dev.mergeval.provenance.Provenance;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
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
     * @param configLocation the config file (local path or Hadoop URI) that relative path parameters
     *     resolve against, or null for the working directory
     * @param digest the digest provenance records of every input and output shard
     * @param files which files beside the weights the output gets
     */
    public record Request(String configSource, String configYaml, String outDir, long seed, boolean overwrite,
            PlanOptions options, String configLocation, FileDigest digest, OutputFiles files) {

        /** A request with the default digest, {@link FileDigest#XXH64}, and {@link OutputFiles#ALL}. */
        public Request(String configSource, String configYaml, String outDir, long seed, boolean overwrite,
                PlanOptions options, String configLocation) {
            this(configSource, configYaml, outDir, seed, overwrite, options, configLocation, FileDigest.XXH64,
                    OutputFiles.ALL);
        }

        /** A request for a config that is not read from a file. */
        public Request(String configSource, String configYaml, String outDir, long seed, boolean overwrite,
                PlanOptions options) {
            this(configSource, configYaml, outDir, seed, overwrite, options, null);
        }

        /** This request with provenance digests of kind {@code kind}. */
        public Request withDigest(FileDigest kind) {
            return new Request(configSource, configYaml, outDir, seed, overwrite, options, configLocation, kind, files);
        }

        /** This request with {@code files} beside the weights. */
        public Request withFiles(OutputFiles files) {
            return new Request(configSource, configYaml, outDir, seed, overwrite, options, configLocation, digest, files);
        }

        MergeConfig config() {
            return MergeConfig.parse(configYaml, configSource, configLocation);
        }
    }

    /**
     * The files an output gets beside its weights, {@code config.json}, {@value #CONFIG_FILE} and the
     * provenance, as mergekit-yaml's {@code --copy-tokenizer} and {@code --write-model-card} choose
     * them.
     *
     * @param tokenizer the tokenizer's files (and {@code generation_config.json}) copied from the
     *     model that gives them; a tokenizer rebuilt for {@code tokenizer_source} is written either way
     * @param modelCard a {@link ModelCard} as {@value ModelCard#FILE}
     */
    public record OutputFiles(boolean tokenizer, boolean modelCard) {
        public static final OutputFiles ALL = new OutputFiles(true, true);
    }

    /**
     * What was published, and where the time went: planning, preparing the shards (in place), the
     * units with the input hashing that overlaps them, hashing (in place) or assembling the shards,
     * and publishing.
     */
    public record Outcome(MergePlan plan, String outDir, List<MergeCommitter.WrittenShard> shards, long wallMillis,
            Map<String, Long> phaseMillis) {
    }

    private MergeJob() {
    }

    public static MergePlan plan(Request request, Configuration conf) {
        return plan(request, request.config(), conf, Progress.NONE, AnalysisRunner.LOCAL);
    }

    private static MergePlan plan(Request request, MergeConfig config, Configuration conf, Progress progress,
            AnalysisRunner runner) {
        OutputPublisher publisher = OutputPublisher.forPath(request.outDir(), conf);
        Path out = publisher.outputPath(request.outDir());
        publisher.checkDestination(out, request.overwrite());
        // The models' locations before planning (a plan-time analysis may take minutes), their
        // files after it.
        Map<String, List<String>> locations = new LinkedHashMap<>();
        config.inputModels().forEach(ref -> locations.put(ref, locationPaths(MergePlanner.resolve(ref), conf)));
        config.extraModels().keySet().forEach(parameter -> locations.put("parameters." + parameter,
                locationPaths(config.resolve(parameter), conf)));
        OutputPublisher.checkOutside(out, reads(request, config, locations), conf);
        MergePlan plan = MergePlanner.plan(config, request.seed(), request.options(), conf, progress, runner);
        Map<String, List<String>> files = new LinkedHashMap<>();
        plan.inputFiles().forEach((input, list) -> files.put(input, list.stream().map(ShardFile::path).toList()));
        OutputPublisher.checkOutside(out, reads(request, config, files), conf);
        return plan;
    }

    /**
     * What a merge reads, by what reads it: each input's paths ({@code inputs}, by input key), the
     * tokenizer's source, the file parameters and the config itself.
     */
    private static Map<String, List<String>> reads(Request request, MergeConfig config,
            Map<String, List<String>> inputs) {
        Map<String, List<String>> read = new LinkedHashMap<>();
        inputs.forEach((input, paths) -> read.put("input '" + input + "'", paths));
        config.tokenizerModel().ifPresent(ref -> read.put("tokenizer_source",
                List.of(MergeConfig.resolvePath(ref, config.location().orElse(null)))));
        config.fileParameters().forEach((name, file) -> read.put("parameters." + name, List.of(file)));
        if (request.configLocation() != null) {
            read.put("the merge config", List.of(request.configLocation()));
        }
        return read;
    }

    /**
     * The paths a model location names: itself, or a {@code BASE+ADAPTER}'s two; none where it names
     * nothing (the planner then says so, naming the config's field).
     */
    private static List<String> locationPaths(String uri, Configuration conf) {
        try {
            return Checkpoint.paths(uri, conf);
        } catch (BadInputException e) {
            return List.of();
        }
    }

    public static Outcome run(Request request, MergeExecutor executor, Configuration conf) {
        long start = System.nanoTime();
        Environment.prefetch();
        Map<String, Long> phases = new LinkedHashMap<>();
        MergeConfig config = request.config();
        MergePlan plan = plan(request, config, conf, executor.progress(), executor.analysisRunner());
        long mark = lap(phases, "plan", start);
        OutputPublisher publisher = OutputPublisher.forPath(request.outDir(), conf);
        String staging = publisher.stage(request.outDir(), stagingKey(plan)).toString();
        FileSystem fs = HadoopFs.get(new Path(staging), conf);
        // Another run of the same plan would resume in this directory too: one at a time.
        try (StagingClaim claim = StagingClaim.take(fs, new Path(staging), request.outDir())) {
            String parts = new Path(staging, "_parts").toString();
            boolean inPlace = prepareInPlace(plan, staging, parts, conf);
            mark = lap(phases, "prepare", mark);
            InputFiles inputFiles = new InputFiles(plan.inputFiles());
            // The inputs are hashed for provenance on the same threads as the units, after them.
            FileDigest digest = request.digest();
            MergeExecutor.Executed executed;
            try {
                executed = executor.executeAndHash(plan, parts, inputFiles.paths(), digest);
            } catch (RuntimeException failed) {
                RuntimeException reported = inputFiles.changedOr(failed, publisher, staging, conf);
                throw reported == failed ? namingConfig(config, failed) : reported;
            }
            mark = lap(phases, "execute+hash_inputs", mark);
            Map<String, List<FileHash>> inputHashes = inputFiles.withHashes(executed.digests(), digest);
            inputFiles.checkUnchanged(publisher, staging, conf);
            claim.verify();
            List<MergeCommitter.WrittenShard> shards = inPlace
                    ? MergeCommitter.commitInPlace(plan, executed.units(), staging, conf,
                            files -> executor.digests(files, digest), digest)
                    : MergeCommitter.assemble(plan, executed.units(), staging, conf,
                            Runtime.getRuntime().availableProcessors(), digest);
            mark = lap(phases, inPlace ? "hash_outputs" : "assemble", mark);
            fs.delete(new Path(parts), true);
            String copyRoot;
            // Reopened as the units opened it where they ran here: no header read again for a root.
            try (Checkpoint source = Checkpoint.openFor(plan, plan.uriOf(plan.copySource()), conf)) {
                copyRoot = source.root();
            }
            String tokenizerRoot = config.tokenizerModel().map(ref -> MergeConfig.resolvePath(ref, null))
                    .orElse(copyRoot);
            boolean tokenizerFiles = request.files().tokenizer();
            ModelFiles.copyAuxiliary(copyRoot, tokenizerRoot, staging, outputDtype(plan), outputConfig(plan, conf),
                    tokenizerFiles, conf);
            if (OutputTokenizer.mayRewrite(config) || (tokenizerFiles && config.chatTemplate().isPresent())) {
                try (MergeInputs inputs = MergeInputs.open(config, plan.modelUris(), plan.extraUris(), conf)) {
                    OutputTokenizer tokenizer = OutputTokenizer.mayRewrite(config) ? OutputTokenizer.of(config,
                            inputs.reference(), inputs.models().values(), conf) : null;
                    boolean rewritten = tokenizer != null && tokenizer.rewritten();
                    if (rewritten) {
                        tokenizer.write(staging, conf);
                    }
                    // As mergekit: a chat template goes with a tokenizer, copied or rebuilt.
                    if (tokenizerFiles || rewritten) {
                        ChatTemplates.resolve(config, inputs.models().values(), conf)
                                .ifPresent(template -> ChatTemplates.write(template, staging, conf));
                    }
                }
            }
            write(fs, new Path(staging, CONFIG_FILE), request.configYaml());
            if (request.files().modelCard()) {
                write(fs, new Path(staging, ModelCard.FILE), ModelCard.render(config, request.configYaml(),
                        new Path(request.outDir()).getName()));
            }
            long wallMillis = (System.nanoTime() - start) / 1_000_000;
            MergeProvenance provenance = provenance(plan, config.mergeMethod(), config.parameters(), inputHashes,
                    shards, executor.describe(), wallMillis);
            // Written last: its presence marks the staged output complete.
            write(fs, new Path(staging, OutputPublisher.PROVENANCE_FILE), provenance.toJson());
            claim.release();
            publisher.publish(new Path(staging), publisher.outputPath(request.outDir()), request.overwrite());
            lap(phases, "publish", mark);
            return new Outcome(plan, request.outDir(), shards, (System.nanoTime() - start) / 1_000_000, phases);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The output's {@code config.json} from the one it copies: a layout's layer counts (under its
     * family's key, {@link MergeLayout#writeLayerCounts}) and per-layer lists
     * ({@link MergeLayout#layOutPerLayerKeys}, from the source models' configs), and the
     * {@code vocab_size} of embeddings cut to the rows all inputs have ({@link EmbeddingRows}).
     */
    private static UnaryOperator<ObjectNode> outputConfig(MergePlan plan, Configuration conf) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        plan.tensors().forEach(t -> shapes.put(t.name(), t.shape()));
        return json -> {
            if (plan.layout() != null) {
                plan.layout().writeLayerCounts(json);
                Map<String, JsonNode> configs = new HashMap<>();
                plan.layout().layOutPerLayerKeys(json, ref -> configs.computeIfAbsent(ref, r -> {
                    // As the units opened it: read again only where they ran in other JVMs.
                    try (Checkpoint model = Checkpoint.openFor(plan, plan.uriOf(r), conf)) {
                        return model.config();
                    }
                }));
            }
            EmbeddingRows.vocabSize(shapes, json, plan.config().tokenizerSource().isPresent())
                    .ifPresent(rows -> json.put("vocab_size", rows));
            return json;
        };
    }

    /**
     * The provenance of a merge: the normalized config, every input shard with its digest, method,
     * parameters, seed, the plan, the executor, the output shards with their digests and the
     * method's plan-time analysis (its summary and per-tensor decisions, for instance Safe LoRA's
     * cosine per matrix).
     *
     * @param inputShards per input ({@link PlanInput#key()}), its shard files with their digests
     */
    static MergeProvenance provenance(MergePlan plan, String method, Object parameters,
            Map<String, List<FileHash>> inputShards, List<MergeCommitter.WrittenShard> outputShards, String executor,
            long wallMillis) {
        List<MergeProvenance.Input> inputs = new ArrayList<>();
        for (PlanInput in : plan.inputs()) {
            inputs.add(new MergeProvenance.Input(in.ref(), in.isExtra() ? in.parameter() : null, in.uri(),
                    inputShards.getOrDefault(in.key(), List.of())));
        }
        List<MergeProvenance.Shard> shards = outputShards.stream()
                .map(s -> MergeProvenance.Shard.of(s.fileName(), s.bytes(), s.digest(), s.hex())).toList();
        List<MergeProvenance.Unit> units = plan.units().stream().map(u -> new MergeProvenance.Unit(u.id(), u.group(),
                plan.unitBytes(u), u.slices().stream().map(s -> new MergeProvenance.Slice(s.tensor(), s.elementOffset(),
                        s.elementCount())).toList())).toList();
        Map<String, Object> analysis = null;
        if (!plan.analysis().isEmpty()) {
            analysis = new LinkedHashMap<>(plan.analysis().summary());
            Map<String, Object> tensors = new LinkedHashMap<>();
            plan.analysis().decisions().forEach((name, d) -> tensors.put(name, d.provenance()));
            analysis.put("tensors", tensors);
        }
        return new MergeProvenance(MergeProvenance.KIND, Environment.buildVersion(), method,
                Provenance.tree(parameters), plan.seed(), plan.configYaml(), inputs,
                new MergeProvenance.Output(plan.totalBytes(), shards),
                new MergeProvenance.Plan(plan.planId(), plan.numLayers(), plan.maxShardBytes(), plan.copySource(),
                        units, layers(plan)),
                Provenance.tree(analysis), executor, wallMillis, Environment.current());
    }

    /** Each output layer's slice and source layers, for a {@code slices:} config; null otherwise. */
    private static List<MergeProvenance.Layer> layers(MergePlan plan) {
        if (plan.layout() == null) {
            return null;
        }
        return plan.layout().layers().stream()
                .map(l -> new MergeProvenance.Layer(l.layer(), l.slice(), l.sources(), l.module())).toList();
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

    private static boolean prepareInPlace(MergePlan plan, String staging, String parts, Configuration conf) {
        try {
            return InPlaceShards.prepare(plan, new Path(staging), new Path(parts), conf);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output shards in " + staging, e);
        }
    }

    /**
     * The name of the plan's staging directory: its id and the versions (length, modification
     * time) of the files it reads, so that a rerun resumes the units of a killed run only where
     * it reads the same files, not where an input has been written again since.
     */
    static String stagingKey(MergePlan plan) {
        StringBuilder versions = new StringBuilder(plan.planId());
        plan.inputFiles().values().forEach(files -> files.forEach(f -> versions.append('\n').append(f.path())
                .append(' ').append(f.length()).append(' ').append(f.modified())));
        return Sha256.ofText(versions.toString()).substring(0, 16);
    }

    /**
     * A unit's refusal of what it read (a tensor whose gradient weights sum to 0, say) prefixed by
     * the config it came from, as planning's errors are: units run from the plan, which names no file.
     */
    private static RuntimeException namingConfig(MergeConfig config, RuntimeException failed) {
        BadInputException bad = BadInputException.in(failed);
        String prefix = config.sourceName() + ": ";
        if (bad == null || String.valueOf(bad.getMessage()).startsWith(prefix)) {
            return failed;
        }
        return new BadInputException(prefix + bad.getMessage(), failed);
    }

    /** The input models' shard files by {@link PlanInput#key()}, in plan order. */
    private record InputFiles(Map<String, List<ShardFile>> byInput) {
        List<String> paths() {
            return all().stream().map(ShardFile::path).toList();
        }

        private List<ShardFile> all() {
            return byInput.values().stream().flatMap(List::stream).toList();
        }

        /**
         * Refuses the merge if an input file is not as it was planned ({@link ShardFile#checkUnchanged}),
         * deleting the staging directory: its units read files that have changed since, so nothing
         * in it is worth resuming.
         */
        void checkUnchanged(OutputPublisher publisher, String staging, Configuration conf) {
            try {
                ShardFile.checkUnchanged(all(), conf);
            } catch (BadInputException changed) {
                publisher.discard(new Path(staging));
                throw changed;
            }
        }

        /**
         * {@link ShardFile#changedOr} for a failed execution, the staging directory deleted where the
         * failure is bad input: a changed file, or a unit refusing what it read, which a rerun of
         * the same plan would refuse again (only a config or input that changes the plan helps).
         */
        RuntimeException changedOr(RuntimeException failure, OutputPublisher publisher, String staging,
                Configuration conf) {
            RuntimeException reported = ShardFile.changedOr(all(), conf, failure);
            if (reported instanceof BadInputException) {
                publisher.discard(new Path(staging));
            }
            return reported;
        }

        /** The shard files with their {@code kind} digests, given in {@link #paths()} order. */
        Map<String, List<FileHash>> withHashes(List<String> hashes, FileDigest kind) {
            Map<String, List<FileHash>> result = new LinkedHashMap<>();
            int i = 0;
            for (Map.Entry<String, List<ShardFile>> e : byInput.entrySet()) {
                List<FileHash> list = new ArrayList<>();
                for (ShardFile s : e.getValue()) {
                    list.add(FileHash.of(s.path(), s.length(), kind, hashes.get(i++)));
                }
                result.put(e.getKey(), list);
            }
            return result;
        }
    }

    private static void write(FileSystem fs, Path path, String text) throws IOException {
        try (OutputStream out = fs.create(path, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }
}
