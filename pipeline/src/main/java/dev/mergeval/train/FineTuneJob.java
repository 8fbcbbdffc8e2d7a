package dev.mergeval.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.Sha256;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.MergevalVersion;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.ModelSource;
import dev.mergeval.runtime.RuntimeOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * curve, SPF's record, versions.
 */
public final class FineTuneJob {

    /** The run name that keys the batch order ({@link Trainer}). */
    public static final String RUN_NAME = "finetune";
    public static final double WEIGHT_DECAY = 0.0;
    public static final double BETA1 = 0.9;
    public static final double BETA2 = 0.95;
    public static final double GRAD_CLIP = 1.0;

    private FineTuneJob() {
    }

    /** What a finished run wrote and measured. */
    public record Outcome(String outDir, TrainingConfig training, int records, int sequences, TrainingRun run) {
    }

    public static Outcome run(FineTuneRequest request, Configuration conf, Progress progress, Consumer<String> log) {
        List<ChatRecord> records = ChatJsonl.read(request.data(), conf);
        List<ChatRecord> safetyRecords = request.spfSafetyData() == null ? null
                : ChatJsonl.read(request.spfSafetyData(), conf);
        LanguageModels.check(ModelSource.parse(request.model(), conf), conf);
        checkShapes(request, conf);
        OutputPublisher publisher = OutputPublisher.forPath(request.out(), conf);
        Path out = publisher.outputPath(request.out());
        publisher.checkDestination(out, request.overwrite());

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
            Device device = new RuntimeOptions(request.device(), 0, 1).djlDevice();
            try (NDManager manager = NDManager.newBaseManager(device)) {
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
                    publisher.discard(staging);
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
        ObjectNode cfg = new ObjectMapper().createObjectNode();
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

    private static ObjectNode provenance(FineTuneRequest r, TrainingConfig t, SpfConfig spf, int records,
            List<TrainingSequence> sequences, TrainingRun run, Configuration conf) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode p = json.createObjectNode();
        p.put("made_by", "mergeval finetune");
        p.put("mode", r.full() ? "full" : "lora");
        p.put("model", r.model());
        p.put("data", r.data());
        p.put("data_sha256", Sha256.of(r.data(), conf));
        p.put("records", records);
        p.put("sequences", sequences.size());
        p.put("response_tokens", sequences.stream().mapToLong(s -> s.response().length).sum());
        ObjectNode h = p.putObject("hyperparameters");
        h.put("steps", t.steps());
        if (r.epochs() != null) {
            h.put("epochs", r.epochs());
        }
        h.put("batch_size", t.batchSize());
        h.put("learning_rate", t.learningRate());
        h.put("warmup_steps", t.warmupSteps());
        h.put("schedule", "linear warm-up to learning_rate, then cosine decay to 0 at the last step");
        h.put("optimizer", "AdamW");
        h.put("beta1", t.beta1());
        h.put("beta2", t.beta2());
        h.put("epsilon", 1e-8);
        h.put("weight_decay", t.weightDecay());
        h.put("grad_clip_global_norm", t.gradClip());
        h.put("seed", t.seed());
        h.put("device", r.device());
        h.put("intra_op_threads", JniUtils.getNumThreads());
        h.putPOJO("target_modules", r.targetModules());
        if (!r.full()) {
            h.put("lora_r", r.loraR());
            h.put("lora_alpha", r.loraAlpha());
            h.put("lora_init", "A ~ U(-1/sqrt(in), 1/sqrt(in)) keyed by (seed, tensor name); B = 0");
        } else {
            h.put("trainable", t.trainable());
        }
        p.putPOJO("loss_curve", run.losses().stream().map(l -> Math.round(l * 1e5) / 1e5).toList());
        p.put("train_seconds", Math.round(run.seconds() * 10) / 10.0);
        if (spf != null) {
            ObjectNode s = p.putObject("spf");
            s.put("safety_data", r.spfSafetyData());
            s.put("safety_data_sha256", Sha256.of(r.spfSafetyData(), conf));
            s.put("safety_sequences", spf.safety().size());
            if (spf.rank() > 0) {
                s.put("rank", spf.rank());
            } else {
                s.put("cer", spf.cer());
            }
            s.put("refresh", spf.refresh());
            s.setAll(run.spf().toJson());
        }
        ObjectNode v = p.putObject("versions");
        v.put("mergeval", MergevalVersion.VERSION);
        v.put("java", System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        v.put("djl", Engine.getDjlVersion());
        v.put("pytorch", Engine.getInstance().getVersion());
        v.put("MKL_CBWR", System.getenv("MKL_CBWR"));
        v.put("MKL_DISABLE_FAST_MM", System.getenv("MKL_DISABLE_FAST_MM"));
        return p;
    }

    private static void writeProvenance(FileSystem fs, Path dir, ObjectNode provenance) {
        try (OutputStream o = fs.create(new Path(dir, OutputPublisher.PROVENANCE_FILE), true)) {
            o.write((new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(provenance)
                    + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the provenance into " + dir, e);
        }
    }
}
