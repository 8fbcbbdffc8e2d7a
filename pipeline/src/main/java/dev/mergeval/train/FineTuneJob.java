package dev.mergeval.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.FineTuneProvenance;
import dev.mergeval.provenance.SpfProvenance;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.data.ChatRecord;
import dev.mergeval.train.data.TrainingSequence;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code mergeval finetune}: checks every input before training (option ranges, the data files
 * line by line, the model's headers and chat template, the output location), trains with
 * {@link Trainer}, and publishes the result atomically ({@link OutputPublisher}: written into a
 * hidden sibling, provenance last, then renamed):
 * <ul>
 *   <li>LoRA (default): a PEFT adapter directory, {@code adapter_config.json} and
 *       {@code adapter_model.safetensors} (float32), loadable as {@code BASE+ADAPTER} and by PEFT;
 *   <li>{@code --full}: a Hugging Face model directory, the source's config (dtype float32),
 *       tokenizer and generation files, and {@code model.safetensors} in float32.
 * </ul>
 * Both hold {@value OutputPublisher#PROVENANCE_FILE}: data hashes, every hyperparameter, the loss
 * curve, SPF's record, the environment ({@link FineTuneProvenance}).
 */
public final class FineTuneJob {

    /** The run name that keys the batch order ({@link Trainer}). */
    public static final String RUN_NAME = "finetune";
    public static final double WEIGHT_DECAY = 0.0;
    public static final double BETA1 = 0.9;
    public static final double BETA2 = 0.95;
    public static final double GRAD_CLIP = 1.0;

    /** Input embeddings, which PEFT adapts as {@code nn.Embedding}, not as linear layers. */
    private static final Pattern INPUT_EMBEDDING = Pattern.compile(
            "(?:^|.*\\.)(?:embed_tokens|wte|word_embeddings|embed_in|tok_embeddings|shared)\\.weight");

    private FineTuneJob() {
    }

    /** What a finished run wrote and measured. */
    public record Outcome(String outDir, TrainingConfig training, int records, int sequences, TrainingRun run) {
    }

    public static Outcome run(FineTuneRequest request, Configuration conf, Progress progress, Consumer<String> log) {
        List<ChatRecord> records = ChatJsonl.read(request.data(), conf);
        List<ChatRecord> safetyRecords = request.spfSafetyData() == null ? null
                : ChatJsonl.read(request.spfSafetyData(), conf);
        LanguageModels.checkDirectory(request.model(), conf);
        checkShapes(request, conf);
        OutputPublisher publisher = OutputPublisher.forPath(request.out(), conf);
        Path out = publisher.outputPath(request.out());
        publisher.checkDestination(out, request.overwrite());
        Map<String, List<String>> read = new LinkedHashMap<>();
        // a BASE+ADAPTER's adapter is read too: an output over it would delete it
        read.put("--model", Checkpoint.paths(request.model(), conf));
        read.put("--data", List.of(request.data()));
        if (request.spfSafetyData() != null) {
            read.put("--spf-safety-data", List.of(request.spfSafetyData()));
        }
        OutputPublisher.checkOutside(out, read, conf);

        try (DjlLanguageModel lm = LanguageModels.loadDirectory(request.model(), conf, RuntimeOptions.cpu())) {
            if (!lm.hasChatTemplate()) {
                throw new BadInputException(request.model() + ": the model has no chat_template in "
                        + "tokenizer_config.json, needed to render chat-format data");
            }
            ChatEncoder encoder = new ChatEncoder(lm::renderChat, lm.tokenizer(),
                    lm.forward().config().maxPositionEmbeddings());
            List<TrainingSequence> sequences = encoder.encode(records);
            if (sequences.size() < request.batchSize()) {
                throw new BadInputException("--batch-size " + request.batchSize() + " exceeds the " + sequences.size()
                        + " assistant turns of " + request.data());
            }
            TrainingConfig training = trainingConfig(request, sequences.size());
            SpfConfig spf = null;
            if (safetyRecords != null) {
                spf = new SpfConfig(encoder.encode(safetyRecords),
                        request.spfCer() != null ? 0 : request.spfRank() != null ? request.spfRank() : SpfConfig.DEFAULT_RANK,
                        request.spfCer() != null ? request.spfCer() : Double.NaN, request.spfRefresh());
            }
            RuntimeOptions onDevice = new RuntimeOptions(request.device(), 0, 1);
            Device device = onDevice.djlDevice();
            try (NDManager manager = LanguageModels.manager(onDevice)) {
                Map<String, NDArray> params = onDevice(lm.parameters(), manager, device);
                Adaptation adaptation = request.full() ? new FullAdaptation(params, training::trains)
                        : new LoraAdaptation(params, new LoraConfig(request.loraR(), request.loraAlpha(),
                                request.targetModules()), request.seed());
                log.accept(String.format("finetune: %d records, %d sequences, %d steps of %d, %s", records.size(),
                        sequences.size(), training.steps(), training.batchSize(), request.full() ? "full" : "LoRA"));
                TrainingRun run = new Trainer(lm.forward(), log, progress).train(adaptation, sequences, training, spf);
                Path staging = publisher.stage(request.out());
                try {
                    FileSystem fs = HadoopFs.get(staging, conf);
                    if (adaptation instanceof LoraAdaptation lora) {
                        writeAdapter(fs, staging, lora, request);
                    } else {
                        writeModel(fs, staging, params, request, conf);
                    }
                    writeProvenance(fs, staging, provenance(request, training, spf, records.size(), sequences, run, conf));
                    publisher.publish(staging, out, request.overwrite());
                } catch (RuntimeException e) {
                    publisher.discardAfter(staging, e);
                    throw e;
                }
                return new Outcome(request.out(), training, records.size(), sequences.size(), run);
            }
        }
    }

    /**
     * Steps from {@code --steps}, else {@code ceil(epochs * sequences / batch)} (1 epoch by
     * default); warm-up from {@code --warmup}, else 10% of the steps.
     */
    static TrainingConfig trainingConfig(FineTuneRequest r, int sequences) {
        int steps = r.steps() != null ? r.steps()
                : (int) Math.max(1, Math.ceil((r.epochs() != null ? r.epochs() : 1.0) * sequences / r.batchSize()));
        int warmup = r.warmup() != null ? r.warmup() : steps / 10;
        if (warmup >= steps) {
            throw new BadInputException("--warmup " + warmup + " must be below the " + steps + " training steps");
        }
        String trainable = r.full() ? r.targetPattern() : "lora_[AB]";
        return new TrainingConfig(RUN_NAME, steps, r.batchSize(), r.peakLearningRate(), warmup, WEIGHT_DECAY, BETA1,
                BETA2, GRAD_CLIP, trainable, r.seed());
    }

    /**
     * From the checkpoint's headers, before any weight is read: the target modules select at least
     * one 2-D weight, and neither {@code --lora-r} nor {@code --spf-rank} exceeds the smaller side
     * of a selected weight.
     */
    private static void checkShapes(FineTuneRequest r, Configuration conf) {
        boolean any = false;
        try (Checkpoint model = Checkpoint.open(r.model(), conf)) {
            for (String name : model.tensorNames()) {
                long[] shape = model.info(name).shape();
                if (shape.length != 2 || !LoraConfig.targetsModules(r.targetModules(), name)) {
                    continue;
                }
                any = true;
                if (!r.full() && INPUT_EMBEDDING.matcher(name).matches()) {
                    // PEFT adapts an nn.Embedding with lora_embedding_A/B, a layout this trainer does not write
                    throw new BadInputException("--target-modules " + r.targetModules() + " selects the input embedding '"
                            + name + "': LoRA on an embedding is not supported (PEFT would not load it as written);"
                            + " leave it out, or train it with --full");
                }
                long side = Math.min(shape[0], shape[1]);
                if (!r.full() && r.loraR() > side) {
                    throw new BadInputException("--lora-r " + r.loraR() + " exceeds the smaller side of '" + name
                            + "' " + java.util.Arrays.toString(shape));
                }
                if (r.spfSafetyData() != null && r.spfRank() != null && r.spfRank() > side) {
                    throw new BadInputException("--spf-rank " + r.spfRank() + " exceeds the rank of '" + name + "' "
                            + java.util.Arrays.toString(shape));
                }
            }
        }
        if (!any) {
            throw new BadInputException("--target-modules " + r.targetModules() + " matches no 2-D weight of "
                    + r.model());
        }
    }

    /** Copies of the (CPU, float32) parameters on the training device, owned by {@code manager}. */
    private static Map<String, NDArray> onDevice(Map<String, NDArray> params, NDManager manager, Device device) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        params.forEach((name, p) -> {
            NDArray copy = device.equals(p.getDevice()) ? p.duplicate() : p.toDevice(device, true);
            copy.attach(manager);
            out.put(name, copy);
        });
        return out;
    }

    private static void writeAdapter(FileSystem fs, Path dir, LoraAdaptation lora, FineTuneRequest r) {
        ObjectNode cfg = Mappers.JSON.createObjectNode();
        cfg.put("peft_type", "LORA");
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("base_model_name_or_path", r.model());
        cfg.put("r", r.loraR());
        if (r.loraAlpha() == Math.rint(r.loraAlpha()) && Math.abs(r.loraAlpha()) < Integer.MAX_VALUE) {
            cfg.put("lora_alpha", (int) r.loraAlpha());
        } else {
            cfg.put("lora_alpha", r.loraAlpha());
        }
        cfg.putPOJO("target_modules", r.targetModules());
        cfg.put("lora_dropout", 0.0);
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", false);
        cfg.put("inference_mode", true);
        cfg.put("init_lora_weights", true);
        cfg.put("use_rslora", false);
        cfg.put("use_dora", false);
        cfg.putNull("modules_to_save");
        try {
            ModelFiles.writeConfig(fs, new Path(dir, "adapter_config.json"), cfg);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir + "/adapter_config.json", e);
        }
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        lora.factorsByPeftName().forEach((name, a) -> tensors.add(SafetensorsWriter.TensorData.ofFloats(
                name, DType.F32, a.getShape().getShape(), a.toFloatArray())));
        SafetensorsWriter.writeFile(fs, new Path(dir, "adapter_model.safetensors"), tensors, Map.of("format", "pt"));
    }

    private static void writeModel(FileSystem fs, Path dir, Map<String, NDArray> params, FineTuneRequest r,
            Configuration conf) {
        String root;
        try (Checkpoint source = Checkpoint.open(r.model(), conf)) {
            root = source.root();
        }
        ModelFiles.copyAuxiliary(HadoopFs.get(new Path(root), conf), new Path(root), fs, dir, DType.F32);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        params.forEach((name, p) -> tensors.add(SafetensorsWriter.TensorData.ofFloats(
                name, DType.F32, p.getShape().getShape(), p.toFloatArray())));
        SafetensorsWriter.writeFile(fs, new Path(dir, "model.safetensors"), tensors, Map.of("format", "pt"));
    }

    private static FineTuneProvenance provenance(FineTuneRequest r, TrainingConfig t, SpfConfig spf, int records,
            List<TrainingSequence> sequences, TrainingRun run, Configuration conf) {
        FineTuneProvenance.Hyperparameters h = new FineTuneProvenance.Hyperparameters(t.steps(), r.epochs(),
                t.batchSize(), t.learningRate(), t.warmupSteps(),
                "linear warm-up to learning_rate, then cosine decay to 0 at the last step", "AdamW", t.beta1(),
                t.beta2(), 1e-8, t.weightDecay(), t.gradClip(), t.seed(), r.device(), JniUtils.getNumThreads(),
                r.targetModules(), r.full() ? null : r.loraR(), r.full() ? null : r.loraAlpha(),
                r.full() ? null : "A ~ U(-1/sqrt(in), 1/sqrt(in)) keyed by (seed, tensor name); B = 0",
                r.full() ? t.trainable() : null);
        SpfProvenance s = spf == null ? null : run.spf().provenance(r.spfSafetyData(),
                HadoopFs.sha256(r.spfSafetyData(), conf), spf.safety().size(), null, spf.rank() > 0 ? spf.rank() : null,
                spf.rank() > 0 ? null : spf.cer(), spf.refresh());
        return new FineTuneProvenance(FineTuneProvenance.MADE_BY, r.full() ? "full" : "lora", r.model(), r.data(),
                HadoopFs.sha256(r.data(), conf), records, sequences.size(),
                sequences.stream().mapToLong(q -> q.response().length).sum(), h,
                run.losses().stream().map(l -> Math.round(l * 1e5) / 1e5).toList(),
                Math.round(run.seconds() * 10) / 10.0, s, Environment.current());
    }

    private static void writeProvenance(FileSystem fs, Path dir, FineTuneProvenance provenance) {
        try (OutputStream o = fs.create(new Path(dir, OutputPublisher.PROVENANCE_FILE), true)) {
            o.write(provenance.toJson().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the provenance into " + dir, e);
        }
    }
}
