package dev.mergeval.toy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.common.Sha256;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.provenance.SpfProvenance;
import dev.mergeval.provenance.ToyProvenance;
import dev.mergeval.runtime.ModelDirectory;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.FullAdaptation;
import dev.mergeval.train.SpfConfig;
import dev.mergeval.train.Trainer;
import dev.mergeval.train.TrainingConfig;
import dev.mergeval.train.TrainingRun;
import dev.mergeval.train.data.TrainingSequence;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;

/**
 * Makes the embedded default models: generates the datasets and writes them as
 * {@code data/toy/*.jsonl}, then, under {@code models/toy} (Hugging Face layout):
 * <ul>
 *   <li>{@code aligned}: the pre-trained base aligned on the alignment data;
 *   <li>{@code finetuned}: the aligned model fine-tuned on the downstream task mixed with general
 *       chat (no safety data);
 *   <li>{@code finetuned-spf}: the same fine-tune (same data, steps, learning rate, seed) with SPF
 *       on, its safety samples a few training harmful requests with their refusal
 *       ({@code data/toy/spf-safety.jsonl});
 *   <li>{@code base}: the pre-trained stories260K weights themselves, the pre-alignment model.
 * </ul>
 * Training reads the JSONL files it wrote through the chat-data path of {@code mergeval finetune}
 * ({@link ChatJsonl}, {@link ChatEncoder}, {@link Trainer}). Each written model is scored on the
 * held-out splits through the runtime, and how it was made is recorded in its
 * {@code toy-provenance.json}. A build may be limited to some models; the fine-tunes then start
 * from the {@code aligned} model already under the output root.
 */
public final class ToyModelBuilder {

    /** The models a build can write, in build order. */
    public static final List<String> MODELS = List.of("aligned", "finetuned", "finetuned-spf", "base");

    /** The SPF fine-tune's safety samples, beside the datasets. */
    public static final String SPF_SAFETY_FILE = "spf-safety.jsonl";

    private final Path baseModel;
    private final ToyRecipe recipe;
    private final Consumer<String> log;

    public ToyModelBuilder(Path baseModel, ToyRecipe recipe, Consumer<String> log) {
        this.baseModel = baseModel;
        this.recipe = recipe;
        this.log = log;
    }

    /** What one build measured, by model: held-out scores and training seconds (0 for {@code base}). */
    public record Result(Map<String, ToyScores> scores, Map<String, Double> seconds) {
    }

    /** Builds every model into an empty output root. */
    public Result build(Path outRoot) throws IOException {
        return build(outRoot, MODELS, false);
    }

    /**
     * Builds the datasets and the models named in {@code only} (a subset of {@link #MODELS}) in a
     * hidden staging directory under {@code outRoot}, then moves each into place: a model directory
     * or dataset already there is replaced only if {@code overwrite} (a dataset with the same bytes
     * is left as it is), and a build that fails leaves what was there untouched.
     */
    public Result build(Path outRoot, Collection<String> only, boolean overwrite) throws IOException {
        for (Path p = outRoot.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                if (!Files.isDirectory(p)) {
                    throw new BadInputException(outRoot + ": output location is " + (p.equals(outRoot.toAbsolutePath())
                            ? "a file, not a directory" : "under " + p + ", a file, not a directory"));
                }
                break;
            }
        }
        for (String m : only) {
            if (!MODELS.contains(m)) {
                throw new BadInputException("unknown toy model '" + m + "'; expected some of " + MODELS);
            }
        }
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            if (!Files.isRegularFile(baseModel.resolve(f))) {
                throw new BadInputException("base model " + baseModel + " lacks " + f);
            }
        }
        if (only.contains("base") && !Files.isRegularFile(baseModel.resolve("LICENSE.llama2c"))) {
            throw new BadInputException("base model " + baseModel + " lacks LICENSE.llama2c, its licence");
        }
        Path modelsDir = outRoot.resolve("models").resolve("toy");
        Path alignedWeights = modelsDir.resolve("aligned").resolve("model.safetensors");
        boolean fineTunes = only.contains("finetuned") || only.contains("finetuned-spf");
        if (fineTunes && !only.contains("aligned") && !Files.isRegularFile(alignedWeights)) {
            throw new BadInputException(alignedWeights + " not found: the fine-tunes start from the aligned model;"
                    + " build 'aligned' too");
        }
        List<Path> occupied = new ArrayList<>();
        for (String m : only) {
            Path dir = modelsDir.resolve(m);
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    // Someone's file, not an earlier build's model: kept, --overwrite or not.
                    throw new BadInputException(dir + ": is a file, not a model directory");
                }
                occupied.add(dir);
            }
        }
        refuseUnlessOverwrite(occupied, overwrite);
        Path dataDir = outRoot.resolve("data").resolve("toy");
        Files.createDirectories(outRoot);
        Path staging = Files.createTempDirectory(outRoot, ".toy-models-staging-");
        try {
            Path stagedModels = staging.resolve("models");
            ToyDatasets data = ToyDataGenerator.generate(recipe.seed());
            Path stagedData = staging.resolve("data");
            Map<String, Path> files = new LinkedHashMap<>(data.writeJsonl(stagedData));
            Path safetyFile = stagedData.resolve(SPF_SAFETY_FILE);
            ToyDatasets.writeJsonl(safetyFile, data.alignmentTrain().stream()
                    .filter(e -> e.kind().equals("harmful")).limit(recipe.spf().samples()).toList());
            Map<String, String> dataHashes = new LinkedHashMap<>();
            for (Map.Entry<String, Path> e : files.entrySet()) {
                dataHashes.put(e.getKey() + ".jsonl", Sha256.of(Files.readAllBytes(e.getValue())));
            }
            files.put("spf-safety", safetyFile);
            List<Path> changedData = new ArrayList<>();
            for (Path staged : files.values()) {
                Path target = dataDir.resolve(staged.getFileName());
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)
                        && !(Files.isRegularFile(target) && Files.mismatch(staged, target) == -1)) {
                    changedData.add(target);
                }
            }
            refuseUnlessOverwrite(changedData, overwrite);
            log.accept("datasets: " + data.alignmentTrain().size() + " alignment, " + data.fineTuneTrain().size()
                    + " fine-tuning examples -> " + dataDir);

            Map<String, ToyScores> scores = new LinkedHashMap<>();
            Map<String, Double> seconds = new LinkedHashMap<>();
            build(only, data, files, dataHashes, stagedModels,
                    only.contains("aligned") ? stagedModels.resolve("aligned").resolve("model.safetensors") : alignedWeights,
                    scores, seconds);
            Files.createDirectories(dataDir);
            for (Path staged : files.values()) {
                Files.move(staged, dataDir.resolve(staged.getFileName()), StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE);
            }
            Files.createDirectories(modelsDir);
            for (String m : only) {
                Path target = modelsDir.resolve(m);
                Path aside = staging.resolve("replaced-" + m);
                boolean replacing = Files.exists(target, LinkOption.NOFOLLOW_LINKS);
                if (replacing) {
                    Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
                }
                try {
                    Files.move(stagedModels.resolve(m), target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    if (replacing) {
                        Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                    }
                    throw e;
                }
            }
            return new Result(scores, seconds);
        } finally {
            HadoopFs.local().delete(HadoopFs.of(staging), true);
        }
    }

    /** Fails, naming them, if any of {@code existing} is there and {@code overwrite} is false. */
    private static void refuseUnlessOverwrite(List<Path> existing, boolean overwrite) {
        if (!existing.isEmpty() && !overwrite) {
            throw new BadInputException(existing.stream().map(Path::toString).collect(Collectors.joining(", "))
                    + (existing.size() == 1 ? " exists" : " exist") + "; pass --overwrite to replace "
                    + (existing.size() == 1 ? "it" : "them"));
        }
    }

    /** Trains, writes and scores the models of {@code only} under {@code modelsDir}, in build order. */
    private void build(Collection<String> only, ToyDatasets data, Map<String, Path> files,
            Map<String, String> dataHashes, Path modelsDir, Path alignedWeights, Map<String, ToyScores> scores,
            Map<String, Double> seconds) throws IOException {
        String configJson = Files.readString(baseModel.resolve("config.json"));
        LlamaConfig config = LlamaConfig.parse(configJson, baseModel.resolve("config.json").toString());
        ModelDirectory dir = new ModelDirectory(HadoopFs.location(baseModel), new Configuration());
        try (ModelTokenizer tokenizer = ModelTokenizer.load(dir, config.bosTokenId(), eosOf(config))) {
            ToyChatFormat chat = new ToyChatFormat();
            ChatEncoder encoder = new ChatEncoder(chat::render, tokenizer, config.maxPositionEmbeddings());
            Run run = new Run(new LlamaForward(config), encoder, configJson, data, dataHashes, modelsDir);
            for (String model : MODELS) {
                if (!only.contains(model)) {
                    continue;
                }
                Stage s = switch (model) {
                    case "aligned" -> run.stage(model, baseModel.resolve("model.safetensors"), files.get("alignment-train"),
                            recipe.alignment(), null);
                    case "finetuned" -> run.stage(model, alignedWeights, files.get("finetune-train"), recipe.fineTune(), null);
                    case "finetuned-spf" -> run.stage(model, alignedWeights, files.get("finetune-train"), recipe.fineTune(),
                            files.get("spf-safety"));
                    default -> run.base();
                };
                scores.put(model, s.scores());
                seconds.put(model, s.seconds());
            }
        }
    }

    private record Stage(ToyScores scores, double seconds) {
    }

    /** The state one build threads through its stages. */
    private final class Run {
        private final LlamaForward forward;
        private final ChatEncoder encoder;
        private final String configJson;
        private final ToyDatasets data;
        private final Map<String, String> dataHashes;
        private final Path modelsDir;

        Run(LlamaForward forward, ChatEncoder encoder, String configJson, ToyDatasets data,
                Map<String, String> dataHashes, Path modelsDir) {
            this.forward = forward;
            this.encoder = encoder;
            this.configJson = configJson;
            this.data = data;
            this.dataHashes = dataHashes;
            this.modelsDir = modelsDir;
        }

        /**
         * Loads {@code startWeights}, trains them on {@code trainFile} (with SPF on
         * {@code safetyFile} unless it is null), writes them as model {@code role}, scores it
         * through the runtime and records its provenance.
         */
        Stage stage(String role, Path startWeights, Path trainFile, TrainingConfig training, Path safetyFile)
                throws IOException {
            Configuration conf = new Configuration();
            List<TrainingSequence> sequences = encoder.encode(ChatJsonl.read(trainFile.toString(), conf));
            SpfConfig spf = null;
            if (safetyFile != null) {
                ToyRecipe.Spf s = recipe.spf();
                spf = new SpfConfig(encoder.encode(ChatJsonl.read(safetyFile.toString(), conf)), s.rank(), Double.NaN,
                        s.refresh());
            }
            String startSha256 = Sha256.of(Files.readAllBytes(startWeights));
            TrainingRun result;
            Path dir = modelsDir.resolve(role);
            try (NDManager manager = NDManager.newBaseManager()) {
                Map<String, NDArray> params = load(manager, startWeights);
                result = new Trainer(forward, log, Progress.NONE)
                        .train(new FullAdaptation(params, training::trains), sequences, training, spf);
                writeModel(dir, configJson, params);
            }
            ToyScores scores = ToyEvaluator.evaluate(dir.toString(), data, recipe.threads());
            log.accept(String.format("%s in %.0f s: %s", role, result.seconds(), scores));
            SpfProvenance spfRecord = spf == null ? null : result.spf().provenance(SPF_SAFETY_FILE,
                    Sha256.of(Files.readAllBytes(safetyFile)), null, spf.safety().size(), spf.rank(), null,
                    spf.refresh());
            ToyProvenance p = provenance(role, startSha256, scores, List.of(trainFile.getFileName().toString()),
                    training, Math.round(result.seconds() * 10) / 10.0,
                    result.losses().stream().map(l -> Math.round(l * 1e5) / 1e5).toList(), spfRecord);
            writeProvenance(dir, p);
            return new Stage(scores, result.seconds());
        }

        /** Writes the pre-trained weights unchanged as model {@code base}, with their licence. */
        Stage base() throws IOException {
            Path dir = modelsDir.resolve("base");
            try (NDManager manager = NDManager.newBaseManager()) {
                writeModel(dir, configJson, load(manager, baseModel.resolve("model.safetensors")));
            }
            Files.write(dir.resolve("LICENSE"), Files.readAllBytes(baseModel.resolve("LICENSE.llama2c")));
            Files.writeString(dir.resolve("LICENSE-tokenizer.txt"), BASE_LICENSE_NOTE, StandardCharsets.UTF_8);
            ToyScores scores = ToyEvaluator.evaluate(dir.toString(), data, recipe.threads());
            log.accept("base: " + scores);
            writeProvenance(dir, provenance("base", Sha256.of(Files.readAllBytes(baseModel.resolve("model.safetensors"))),
                    scores, List.of(), null, null, null, null));
            return new Stage(scores, 0);
        }

        /** The record of model {@code role}; the training fields are {@code null} for {@code base}. */
        private ToyProvenance provenance(String role, String startSha256, ToyScores scores, List<String> trainedOn,
                TrainingConfig training, Double trainSeconds, List<Double> lossCurve, SpfProvenance spf)
                throws IOException {
            // Bit-reproducible only with MKL's strict mode (the variable must be set before start-up).
            return new ToyProvenance(role, "mergeval toy-models (mergeval " + Environment.buildVersion() + ")",
                    recipe.seed(), role.equals("aligned") || role.equals("base")
                            ? "stories260K (karpathy/llama2.c, MIT)" : "models/toy/aligned", startSha256,
                    Sha256.of(Files.readAllBytes(baseModel.resolve("model.safetensors"))), trainedOn, dataHashes,
                    recipe.threads(), System.getenv("MKL_CBWR"), new ToyProvenance.Scores(scores.refusal(),
                            scores.overRefusalBorderline(), scores.overRefusalBenign(), scores.task()),
                    Provenance.tree(training), trainSeconds, lossCurve, spf, Environment.current());
        }
    }

    private static int eosOf(LlamaConfig config) {
        return config.eosTokenIds().isEmpty() ? -1 : config.eosTokenIds().get(0);
    }

    static Map<String, NDArray> load(NDManager manager, Path file) throws IOException {
        Map<String, NDArray> params = new TreeMap<>();
        try (Checkpoint weights = Checkpoint.open(HadoopFs.location(file), new Configuration())) {
            for (String name : weights.tensorNames()) {
                params.put(name, manager.create(weights.readFloats(name), new Shape(weights.info(name).shape())));
            }
        }
        return params;
    }

    private void writeModel(Path dir, String configJson, Map<String, NDArray> params) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = Mappers.PRETTY;
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : new TreeMap<>(params).entrySet()) {
            tensors.add(SafetensorsWriter.TensorData.ofFloats(e.getKey(), DType.F32, e.getValue().getShape().getShape(),
                    e.getValue().toFloatArray()));
        }
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(dir.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));
        Files.writeString(dir.resolve("config.json"), configJson);
        // bytes, not Files.copy: the source may be read-only and its mode must not carry over
        Files.write(dir.resolve("tokenizer.json"), Files.readAllBytes(baseModel.resolve("tokenizer.json")));
        ObjectNode tokenizerConfig = (ObjectNode) json.readTree(baseModel.resolve("tokenizer_config.json").toFile());
        tokenizerConfig.put("chat_template", ToyChatFormat.CHAT_TEMPLATE);
        json.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfig);
        ObjectNode generation = json.createObjectNode();
        generation.put("bos_token_id", 1).put("eos_token_id", 2).put("do_sample", false);
        json.writeValue(dir.resolve("generation_config.json").toFile(), generation);
        Files.writeString(dir.resolve("LICENSE-tokenizer.txt"), TOKENIZER_LICENSE_NOTE, StandardCharsets.UTF_8);
    }

    private static void writeProvenance(Path dir, ToyProvenance provenance) throws IOException {
        Files.writeString(dir.resolve("toy-provenance.json"), provenance.toJson(), StandardCharsets.UTF_8);
    }

    static final String TOKENIZER_LICENSE_NOTE = "tokenizer.json is a copy of the stories260K tokenizer from\n"
            + "karpathy/llama2.c (\"tinyllamas\"), MIT licence, Copyright (c) 2023 Andrej Karpathy.\n"
            + "The weights in model.safetensors were trained by `mergeval toy-models` starting from the\n"
            + "stories260K weights (same licence); see toy-provenance.json for how.\n";

    static final String BASE_LICENSE_NOTE = "model.safetensors and tokenizer.json are the stories260K weights and\n"
            + "tokenizer from karpathy/llama2.c (\"tinyllamas\"), unchanged, under the MIT licence in LICENSE,\n"
            + "Copyright (c) 2023 Andrej Karpathy. tokenizer_config.json adds the toy chat template.\n";

}
