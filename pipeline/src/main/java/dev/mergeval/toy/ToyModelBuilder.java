package dev.mergeval.toy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.MergevalVersion;
import dev.mergeval.runtime.ModelDirectory;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import dev.mergeval.train.TrainingSequence;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;

/**
 * Makes the embedded default pair: generates the datasets, aligns the pre-trained base model on
 * them, fine-tunes the aligned model on the downstream task mixed with general chat (no safety
 * data), writes {@code models/toy/{aligned,finetuned}} (Hugging Face layout) and
 * {@code data/toy/*.jsonl} under an output root, evaluates both written models on the held-out
 * splits through the runtime, and records how each was made in its {@code toy-provenance.json}.
 */
public final class ToyModelBuilder {

    private final Path baseModel;
    private final ToyRecipe recipe;
    private final Consumer<String> log;

    public ToyModelBuilder(Path baseModel, ToyRecipe recipe, Consumer<String> log) {
        this.baseModel = baseModel;
        this.recipe = recipe;
        this.log = log;
    }

    /** Everything one build measured. */
    public record Result(ToyScores aligned, ToyScores fineTuned, double alignSeconds, double fineTuneSeconds) {
    }

    public Result build(Path outRoot) throws IOException {
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            if (!Files.isRegularFile(baseModel.resolve(f))) {
                throw new BadInputException("base model " + baseModel + " lacks " + f);
            }
        }
        ToyDatasets data = ToyDataGenerator.generate(recipe.seed());
        Map<String, Path> files = data.writeJsonl(outRoot.resolve("data").resolve("toy"));
        Map<String, String> dataHashes = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : files.entrySet()) {
            dataHashes.put(e.getKey() + ".jsonl", sha256(Files.readAllBytes(e.getValue())));
        }
        log.accept("datasets: " + data.alignmentTrain().size() + " alignment, " + data.fineTuneTrain().size()
                + " fine-tuning examples -> " + files.values().iterator().next().getParent());

        String configJson = Files.readString(baseModel.resolve("config.json"));
        LlamaConfig config = LlamaConfig.parse(configJson, baseModel.resolve("config.json").toString());
        LlamaForward forward = new LlamaForward(config);
        ToyChatFormat chat = new ToyChatFormat();
        ModelDirectory dir = new ModelDirectory(baseModel.toUri().toString(), new Configuration());
        try (ModelTokenizer tokenizer = ModelTokenizer.load(dir, config.bosTokenId(), eosOf(config));
                NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> params = load(manager, baseModel.resolve("model.safetensors"));
            ToyTrainer trainer = new ToyTrainer(forward, log);
            Run run = new Run(trainer, params, configJson, data, dataHashes, outRoot.resolve("models").resolve("toy"));
            Stage aligned = run.stage("aligned", baseModel.resolve("model.safetensors"),
                    tokenize(data.alignmentTrain(), tokenizer, chat), recipe.alignment(), "alignment-train.jsonl");
            Stage fineTuned = run.stage("finetuned", aligned.dir().resolve("model.safetensors"),
                    tokenize(data.fineTuneTrain(), tokenizer, chat), recipe.fineTune(), "finetune-train.jsonl");
            return new Result(aligned.scores(), fineTuned.scores(), aligned.seconds(), fineTuned.seconds());
        }
    }

    private record Stage(Path dir, ToyScores scores, double seconds) {
    }

    /** The state one build threads through its two training stages. */
    private final class Run {
        private final ToyTrainer trainer;
        private final Map<String, NDArray> params;
        private final String configJson;
        private final ToyDatasets data;
        private final Map<String, String> dataHashes;
        private final Path modelsDir;

        Run(ToyTrainer trainer, Map<String, NDArray> params, String configJson, ToyDatasets data,
                Map<String, String> dataHashes, Path modelsDir) {
            this.trainer = trainer;
            this.params = params;
            this.configJson = configJson;
            this.data = data;
            this.dataHashes = dataHashes;
            this.modelsDir = modelsDir;
        }

        /**
         * Trains the parameters in place from {@code startWeights} (the file they were loaded or
         * last written as), writes them as model {@code role}, scores it through the runtime and
         * records its provenance.
         */
        Stage stage(String role, Path startWeights, List<TrainingSequence> sequences, TrainingConfig training,
                String trainedOn) throws IOException {
            long t0 = System.nanoTime();
            List<Double> losses = trainer.train(params, sequences, training);
            double seconds = (System.nanoTime() - t0) / 1e9;
            Path dir = modelsDir.resolve(role);
            writeModel(dir, configJson, params);
            ToyScores scores = ToyEvaluator.evaluate(dir.toString(), data, recipe.threads());
            log.accept(String.format("%s in %.0f s: %s", role, seconds, scores));
            writeProvenance(dir, provenance(role, sha256(Files.readAllBytes(startWeights)), training, losses, scores,
                    seconds, dataHashes, List.of(trainedOn)));
            return new Stage(dir, scores, seconds);
        }
    }

    private static int eosOf(LlamaConfig config) {
        return config.eosTokenIds().isEmpty() ? -1 : config.eosTokenIds().get(0);
    }

    static List<TrainingSequence> tokenize(List<ChatExample> examples, ModelTokenizer tokenizer, ToyChatFormat chat) {
        List<TrainingSequence> out = new ArrayList<>(examples.size());
        for (ChatExample ex : examples) {
            int[] prompt = tokenizer.encode(chat.prompt(ex.prompt()));
            int[] body = tokenizer.encode(ex.response(), false);
            int[] response = new int[body.length + 1];
            System.arraycopy(body, 0, response, 0, body.length);
            response[body.length] = tokenizer.eosId();
            out.add(new TrainingSequence(prompt, response));
        }
        return out;
    }

    static Map<String, NDArray> load(NDManager manager, Path file) throws IOException {
        Map<String, NDArray> params = new TreeMap<>();
        for (Map.Entry<String, ToySafetensors.Tensor> e : ToySafetensors.read(file).entrySet()) {
            ToySafetensors.Tensor t = e.getValue();
            params.put(e.getKey(), manager.create(t.values(), new Shape(t.shape())));
        }
        return params;
    }

    private ObjectNode provenance(String role, String startSha256, TrainingConfig training, List<Double> losses,
            ToyScores scores, double seconds, Map<String, String> dataHashes, List<String> trainedOn) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode p = json.createObjectNode();
        p.put("model", role);
        p.put("made_by", "mergeval toy-models (mergeval " + MergevalVersion.VERSION + ")");
        p.put("seed", recipe.seed());
        p.put("trained_from", role.equals("aligned") ? "stories260K (karpathy/llama2.c, MIT)" : "models/toy/aligned");
        p.put("trained_from_sha256", startSha256);
        p.put("stories260K_sha256", sha256(Files.readAllBytes(baseModel.resolve("model.safetensors"))));
        p.set("training", json.valueToTree(training));
        p.putPOJO("trained_on", trainedOn);
        p.set("data_sha256", json.valueToTree(dataHashes));
        p.put("train_seconds", Math.round(seconds * 10) / 10.0);
        p.put("threads", recipe.threads());
        // Bit-reproducible only with MKL's strict mode (the variable must be set before start-up).
        p.put("MKL_CBWR", System.getenv("MKL_CBWR"));
        p.set("heldout_scores", json.valueToTree(scores));
        p.put("java", System.getProperty("java.version"));
        p.put("os_arch", System.getProperty("os.arch"));
        p.putPOJO("loss_curve", losses.stream().map(l -> Math.round(l * 1e5) / 1e5).toList());
        return p;
    }

    private void writeModel(Path dir, String configJson, Map<String, NDArray> params) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Map<String, ToySafetensors.Tensor> tensors = new TreeMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            tensors.put(e.getKey(), new ToySafetensors.Tensor(e.getValue().getShape().getShape(),
                    e.getValue().toFloatArray()));
        }
        ToySafetensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
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

    private static void writeProvenance(Path dir, ObjectNode provenance) throws IOException {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("toy-provenance.json").toFile(), provenance);
    }

    static final String TOKENIZER_LICENSE_NOTE = "tokenizer.json is a copy of the stories260K tokenizer from\n"
            + "karpathy/llama2.c (\"tinyllamas\"), MIT licence, Copyright (c) 2023 Andrej Karpathy.\n"
            + "The weights in model.safetensors were trained by `mergeval toy-models` starting from the\n"
            + "stories260K weights (same licence); see toy-provenance.json for how.\n";

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }
}
