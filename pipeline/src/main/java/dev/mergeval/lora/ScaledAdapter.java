package dev.mergeval.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.LoraAdapter;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.LoraAdapterProvenance;
import dev.mergeval.provenance.Provenance;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code mergeval scale-lora}: the adapter of the linear merge at ratio {@code l}. For a LoRA
 * fine-tune {@code W_post = W_pre + (alpha/r) B A}, the linear merge
 * {@code (1 - l) W_pre + l W_post = W_pre + l (alpha/r) B A}, which is the same adapter with
 * {@code lora_alpha = l * alpha} ({@code alpha_pattern} entries scaled alike). The factors are not
 * touched: the weights file is copied byte for byte (one file per ratio holds the same bytes), and
 * the only rounding is the engine's own, of {@code l * alpha / r}; scaling {@code B} instead would
 * round every element of it. Tensors saved whole ({@code modules_to_save}) cannot be scaled by
 * alpha: they are written as the merge itself, {@code W_pre + l (W_saved - W_pre)} in float32 (encoded
 * to their dtype, every element of which must be finite once rounded to it), for which the base model is needed.
 */
public final class ScaledAdapter {

    /**
     * @param adapter   the adapter directory
     * @param ratio     {@code l}, finite
     * @param baseModel the base model, needed only when the adapter has {@code modules_to_save}
     * @param outDir    the scaled adapter's directory
     * @param overwrite replace an occupied {@code outDir}
     */
    public record Request(String adapter, double ratio, String baseModel, String outDir, boolean overwrite) {
    }

    private ScaledAdapter() {
    }

    /** Writes the scaled adapter and publishes it atomically with its provenance. */
    public static LoraAdapterProvenance write(Request r, Configuration conf) {
        long start = System.nanoTime();
        if (!Double.isFinite(r.ratio())) {
            throw new BadInputException("--ratio " + r.ratio() + ": must be a finite number");
        }
        OutputPublisher publisher = OutputPublisher.forPath(r.outDir(), conf);
        Path out = publisher.outputPath(r.outDir());
        publisher.checkDestination(out, r.overwrite());
        LoraAdapter adapter = LoraAdapter.load(r.adapter(), conf);
        Map<String, List<String>> read = new LinkedHashMap<>();
        read.put("the adapter", List.of(adapter.dir()));
        if (r.baseModel() != null) {
            read.put("--base-model", List.of(r.baseModel()));
        }
        OutputPublisher.checkOutside(out, read, conf);
        if (!adapter.saved().isEmpty() && r.baseModel() == null) {
            throw new BadInputException(r.adapter() + ": has modules_to_save tensors " + adapter.saved().keySet()
                    + ", which only the base model can scale: give --base-model");
        }
        Path in = new Path(adapter.dir());
        FileSystem inFs = HadoopFs.get(in, conf);
        ObjectNode cfg;
        try {
            cfg = (ObjectNode) Mappers.JSON.readTree(HadoopFs.readString(inFs, new Path(in, AdapterFiles.CONFIG)));
        } catch (IOException e) {
            throw new BadInputException(new Path(in, AdapterFiles.CONFIG) + ": cannot read: " + e.getMessage());
        }
        double alpha = cfg.get("lora_alpha").doubleValue();
        AdapterFiles.putAlpha(cfg, scaled(r.ratio(), alpha, "lora_alpha"));
        JsonNode pattern = cfg.get("alpha_pattern");
        if (pattern instanceof ObjectNode p) {
            Iterator<Map.Entry<String, JsonNode>> it = p.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                e.setValue(Mappers.JSON.getNodeFactory().numberNode(
                        scaled(r.ratio(), e.getValue().doubleValue(), "alpha_pattern entry '" + e.getKey() + "'")));
            }
        }
        Path staging = publisher.stage(r.outDir());
        try {
            FileSystem fs = HadoopFs.get(staging, conf);
            if (adapter.saved().isEmpty()) {
                copy(inFs, new Path(in, AdapterFiles.WEIGHTS), fs, new Path(staging, AdapterFiles.WEIGHTS));
            } else {
                writeMixed(adapter, r, fs, staging, conf);
            }
            AdapterFiles.writeConfig(fs, staging, cfg);
            List<LoraAdapterProvenance.Input> inputs = new ArrayList<>();
            inputs.add(new LoraAdapterProvenance.Input("adapter", r.adapter(), List.of(
                    hash(inFs, new Path(in, AdapterFiles.CONFIG), conf),
                    hash(inFs, new Path(in, AdapterFiles.WEIGHTS), conf))));
            if (r.baseModel() != null) {
                inputs.add(AdapterFiles.input("base_model", r.baseModel(), conf));
            }
            Map<String, Object> parameters = new LinkedHashMap<>();
            parameters.put("ratio", r.ratio());
            parameters.put("source_lora_alpha", alpha);
            parameters.put("scaled", "lora_alpha");
            List<String> targets = new ArrayList<>();
            cfg.withArray("target_modules").forEach(n -> targets.add(n.asText()));
            List<String> toSave = new ArrayList<>();
            if (cfg.get("modules_to_save") != null && cfg.get("modules_to_save").isArray()) {
                cfg.get("modules_to_save").forEach(n -> toSave.add(n.asText()));
            }
            LoraAdapterProvenance provenance = new LoraAdapterProvenance(LoraAdapterProvenance.SCALE,
                    Environment.buildVersion(), inputs, Provenance.tree(parameters),
                    new LoraAdapterProvenance.Adapter(cfg.get("r").intValue(), r.ratio() * alpha, targets, toSave,
                            AdapterFiles.outputHashes(fs, staging, conf)),
                    null, null, null, "driver", (System.nanoTime() - start) / 1_000_000, Environment.current());
            AdapterFiles.writeProvenance(fs, staging, provenance);
            publisher.publish(staging, out, r.overwrite());
            return provenance;
        } catch (RuntimeException e) {
            publisher.discardAfter(staging, e);
            throw e;
        }
    }

    /** {@code ratio * alpha}, which JSON (and PEFT) can only take finite. */
    private static double scaled(double ratio, double alpha, String what) {
        double v = ratio * alpha;
        if (!Double.isFinite(v)) {
            throw new BadInputException("--ratio " + ratio + ": the scaled " + what + " (" + ratio + " * " + alpha
                    + ") is not a finite number");
        }
        return v;
    }

    /** The factors as they are, and each saved tensor as the linear merge of the base's and its own. */
    private static void writeMixed(LoraAdapter adapter, Request r, FileSystem fs, Path staging, Configuration conf) {
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint w = Checkpoint.open(new Path(adapter.dir(), AdapterFiles.WEIGHTS).toString(), conf);
             Checkpoint base = Checkpoint.open(r.baseModel(), conf)) {
            for (String name : w.tensorNames()) {
                LoraAdapter.Saved saved = adapter.saved().get(name.substring(LoraExtraction.PEFT_PREFIX.length()));
                if (saved == null) {
                    tensors.add(SafetensorsWriter.TensorData.ofRaw(name, w.info(name).dtype(), w.info(name).shape(),
                            w.readRaw(name, 0, Math.toIntExact(w.info(name).byteLength()))));
                    continue;
                }
                if (!base.contains(saved.tensor())) {
                    throw new BadInputException(r.baseModel() + ": has no tensor '" + saved.tensor()
                            + "', which the adapter saves whole");
                }
                long[] shape = base.info(saved.tensor()).shape();
                if (!Arrays.equals(shape, saved.shape())) {
                    throw new BadInputException(r.baseModel() + ": tensor '" + saved.tensor() + "' is "
                            + Arrays.toString(shape) + ", but the adapter saves it as " + Arrays.toString(saved.shape()));
                }
                float[] pre = base.readFloats(saved.tensor());
                float l = (float) r.ratio();
                float[] mixed = new float[pre.length];
                for (int i = 0; i < pre.length; i++) {
                    mixed[i] = pre[i] + l * (saved.values()[i] - pre[i]);
                }
                // Checked as written: a value finite in float32 can overflow F16 (65504) or BF16 when rounded.
                TensorCodec.roundTo(saved.dtype(), mixed, 0, mixed.length);
                for (int i = 0; i < pre.length; i++) {
                    if (!Float.isFinite(mixed[i])) {
                        float exact = pre[i] + l * (saved.values()[i] - pre[i]);
                        String whose = !Float.isFinite(pre[i]) ? r.baseModel() + ": the base's"
                                : !Float.isFinite(saved.values()[i]) ? r.adapter() + ": the saved"
                                : "--ratio " + r.ratio() + ": the scaled";
                        throw new BadInputException(whose + " tensor '" + saved.tensor() + "' element " + i
                                + " is not a finite number" + (Float.isFinite(exact) && Float.isFinite(pre[i])
                                && Float.isFinite(saved.values()[i]) ? " in " + saved.dtype() + " (" + exact
                                + " overflows it)" : ""));
                    }
                }
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, saved.dtype(), saved.shape(), mixed));
            }
        }
        SafetensorsWriter.writeFile(fs, new Path(staging, AdapterFiles.WEIGHTS), tensors, Map.of("format", "pt"));
    }

    private static void copy(FileSystem srcFs, Path src, FileSystem dstFs, Path dst) {
        try (InputStream i = srcFs.open(src); OutputStream o = dstFs.create(dst, true)) {
            i.transferTo(o);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + src + " to " + dst, e);
        }
    }

    private static dev.mergeval.provenance.FileHash hash(FileSystem fs, Path p, Configuration conf) {
        try {
            return new dev.mergeval.provenance.FileHash(p.toString(), fs.getFileStatus(p).getLen(),
                    HadoopFs.sha256(p.toString(), conf));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
    }
}
