package dev.mergeval.lora;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.common.Mappers;
import dev.mergeval.merge.ModelCard;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.LoraAdapterProvenance;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** The files of a PEFT adapter directory as this package writes them, and the hashes provenance records. */
final class AdapterFiles {

    static final String CONFIG = "adapter_config.json";
    static final String WEIGHTS = "adapter_model.safetensors";

    private AdapterFiles() {
    }

    /**
     * An {@code adapter_config.json} with every key PEFT writes for linear LoRA (as mergekit-extract-lora
     * writes it), so {@code PeftModel.from_pretrained} and multi-LoRA engines read it without defaults.
     */
    static ObjectNode config(String baseModel, int r, double alpha, List<String> targetModules,
            List<String> modulesToSave, boolean loraBias, boolean fanInFanOut) {
        ObjectNode cfg = Mappers.JSON.createObjectNode();
        cfg.putObject("alpha_pattern");
        cfg.put("base_model_name_or_path", baseModel);
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", fanInFanOut);
        cfg.put("inference_mode", true);
        cfg.put("init_lora_weights", true);
        putAlpha(cfg, alpha);
        if (loraBias) {
            // Written only where used: PEFT before 0.14 refuses the key, and could not apply the biases.
            cfg.put("lora_bias", true);
        }
        cfg.put("lora_dropout", 0.0);
        if (modulesToSave.isEmpty()) {
            cfg.putNull("modules_to_save");
        } else {
            modulesToSave.forEach(cfg.putArray("modules_to_save")::add);
        }
        cfg.put("peft_type", "LORA");
        cfg.put("r", r);
        cfg.putObject("rank_pattern");
        targetModules.forEach(cfg.putArray("target_modules")::add);
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("use_dora", false);
        cfg.put("use_rslora", false);
        return cfg;
    }

    /** {@code lora_alpha} as an integer where it is one (PEFT's own type), else as a number. */
    static void putAlpha(ObjectNode cfg, double alpha) {
        if (alpha == Math.rint(alpha) && Math.abs(alpha) < Integer.MAX_VALUE) {
            cfg.put("lora_alpha", (int) alpha);
        } else {
            cfg.put("lora_alpha", alpha);
        }
    }

    static void writeConfig(FileSystem fs, Path dir, ObjectNode cfg) {
        try {
            ModelFiles.writeConfig(fs, new Path(dir, CONFIG), cfg);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + new Path(dir, CONFIG), e);
        }
    }

    /** The adapter's model card ({@link ModelCard#lora}). */
    static void writeCard(FileSystem fs, Path dir, String card) {
        try (OutputStream o = fs.create(new Path(dir, ModelCard.FILE), true)) {
            o.write(card.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the model card into " + dir, e);
        }
    }

    /** The provenance, written last: its presence marks the staged adapter complete. */
    static void writeProvenance(FileSystem fs, Path dir, LoraAdapterProvenance provenance) {
        try (OutputStream o = fs.create(new Path(dir, OutputPublisher.PROVENANCE_FILE), true)) {
            o.write(provenance.toJson().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the provenance into " + dir, e);
        }
    }

    /** The adapter's two files with their SHA-256, as written into {@code dir}. */
    static List<FileHash> outputHashes(FileSystem fs, Path dir, Configuration conf) {
        List<FileHash> out = new ArrayList<>();
        for (String name : List.of(CONFIG, WEIGHTS)) {
            Path p = new Path(dir, name);
            try {
                out.add(new FileHash(name, fs.getFileStatus(p).getLen(), HadoopFs.sha256(p.toString(), conf)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot stat " + p, e);
            }
        }
        return out;
    }

    /** A model source's weight files (shards, and an adapter's weights) with their SHA-256. */
    static LoraAdapterProvenance.Input input(String role, String source, Configuration conf) {
        List<FileHash> files = new ArrayList<>();
        try (Checkpoint c = Checkpoint.open(source, conf)) {
            for (ShardFile s : c.shardFiles()) {
                files.add(new FileHash(s.path(), s.length(), HadoopFs.sha256(s.path(), conf)));
            }
        }
        return new LoraAdapterProvenance.Input(role, source, files);
    }
}
