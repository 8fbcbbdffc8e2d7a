package dev.mergeval.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ModelFiles;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.ShardLayout;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.llama.LlamaConfig;
import dev.mergeval.runtime.llama.LlamaLayout;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes Llama-shaped checkpoints with random weights in the Hugging Face layout: the fixtures of
 * merge tests and the inputs of merge benchmarks. A "fine-tune" of a base is the base plus small
 * seeded noise, so task vectors are small and dense, as real ones are.
 */
public final class SyntheticModels {

    /**
     * The shape of a synthetic model.
     *
     * @param layers decoder layers
     * @param hidden hidden size
     * @param intermediate MLP width
     * @param heads attention heads (head_dim = hidden / heads)
     * @param kvHeads key/value heads
     * @param vocab vocabulary size
     */
    public record Shape(int layers, int hidden, int intermediate, int heads, int kvHeads, int vocab) {

        public static Shape tiny() {
            return new Shape(2, 16, 32, 4, 2, 64);
        }

        /** Parameters of one copy of the model (untied embeddings). */
        public long parameters() {
            long headDim = hidden / heads;
            long attn = (long) hidden * hidden * 2 + 2L * hidden * kvHeads * headDim;
            long mlp = 3L * hidden * intermediate;
            return (long) layers * (attn + mlp + 2L * hidden) + 2L * vocab * hidden + hidden;
        }
    }

    private SyntheticModels() {
    }

    /** Tensor names and shapes in the order HF writes them. */
    public static List<TensorInfo> specs(Shape s, DType dtype) {
        int headDim = s.hidden() / s.heads();
        List<TensorInfo> specs = new ArrayList<>();
        specs.add(new TensorInfo("model.embed_tokens.weight", dtype, new long[] {s.vocab(), s.hidden()}));
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            specs.add(new TensorInfo(p + "input_layernorm.weight", dtype, new long[] {s.hidden()}));
            specs.add(new TensorInfo(p + "self_attn.q_proj.weight", dtype, new long[] {s.hidden(), s.hidden()}));
            specs.add(new TensorInfo(p + "self_attn.k_proj.weight", dtype, new long[] {(long) s.kvHeads() * headDim, s.hidden()}));
            specs.add(new TensorInfo(p + "self_attn.v_proj.weight", dtype, new long[] {(long) s.kvHeads() * headDim, s.hidden()}));
            specs.add(new TensorInfo(p + "self_attn.o_proj.weight", dtype, new long[] {s.hidden(), s.hidden()}));
            specs.add(new TensorInfo(p + "post_attention_layernorm.weight", dtype, new long[] {s.hidden()}));
            specs.add(new TensorInfo(p + "mlp.gate_proj.weight", dtype, new long[] {s.intermediate(), s.hidden()}));
            specs.add(new TensorInfo(p + "mlp.up_proj.weight", dtype, new long[] {s.intermediate(), s.hidden()}));
            specs.add(new TensorInfo(p + "mlp.down_proj.weight", dtype, new long[] {s.hidden(), s.intermediate()}));
        }
        specs.add(new TensorInfo("model.norm.weight", dtype, new long[] {s.hidden()}));
        specs.add(new TensorInfo("lm_head.weight", dtype, new long[] {s.vocab(), s.hidden()}));
        return specs;
    }

    /**
     * Writes a base model: weights ~ N(0, 0.02), norms 1. Tensors are generated one at a time, so
     * memory is bounded by the largest tensor, not the model.
     */
    public static void writeBase(String dir, Shape shape, DType dtype, long seed, long maxShardBytes,
            Configuration conf) {
        write(dir, shape, dtype, seed, null, 0, maxShardBytes, conf);
    }

    /** Writes a fine-tune of the base with the same seed: base + N(0, noise) per element. */
    public static void writeFineTune(String dir, Shape shape, DType dtype, long baseSeed, long tuneSeed,
            double noise, long maxShardBytes, Configuration conf) {
        write(dir, shape, dtype, baseSeed, tuneSeed, noise, maxShardBytes, conf);
    }

    private static void write(String dir, Shape shape, DType dtype, long baseSeed, Long tuneSeed, double noise,
            long maxShardBytes, Configuration conf) {
        try {
            Path root = new Path(dir);
            long[] index = {0};
            writeLlama(root.getFileSystem(conf), root, config(shape, dtype), specs(shape, dtype), spec -> {
                float[] values = new float[Math.toIntExact(spec.numElements())];
                boolean norm = spec.name().endsWith("norm.weight");
                SplittableRandom base = new SplittableRandom(baseSeed * 1_000_003L + index[0]);
                SplittableRandom tune = tuneSeed == null ? null : new SplittableRandom(tuneSeed * 1_000_003L + index[0]);
                for (int i = 0; i < values.length; i++) {
                    double v = norm ? 1.0 : gaussian(base) * 0.02;
                    if (tune != null) {
                        v += gaussian(tune) * noise;
                    }
                    values[i] = (float) v;
                }
                index[0]++;
                return values;
            }, maxShardBytes, Map.of("format", "pt"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The values of one tensor; asked for once per tensor, in the order of the list written. */
    @FunctionalInterface
    public interface Values {
        float[] of(TensorInfo tensor);
    }

    /** The tensors a Llama {@code config} implies, in {@code dtype}, in {@link LlamaLayout}'s order. */
    public static List<TensorInfo> tensors(ObjectNode config, DType dtype) {
        List<TensorInfo> tensors = new ArrayList<>();
        LlamaLayout.expectedShapes(LlamaConfig.parse(config.toString(), "config.json"))
                .forEach((name, shape) -> tensors.add(new TensorInfo(name, dtype, shape)));
        return tensors;
    }

    /**
     * Writes a Llama-family checkpoint with made-up weights into {@code dir}: {@code config} as a
     * pretty-printed {@code config.json}, then {@code tensors} in order, each filled by
     * {@code values} one at a time (memory is bounded by the largest tensor), in shards of at most
     * {@code maxShardBytes} whose headers carry {@code metadata}. Every random Llama fixture and
     * benchmark model is written here; only the values differ.
     */
    public static void writeLlama(FileSystem fs, Path dir, ObjectNode config, List<TensorInfo> tensors, Values values,
            long maxShardBytes, Map<String, String> metadata) throws IOException {
        ShardLayout layout = ShardLayout.plan(tensors, maxShardBytes, metadata);
        try (SafetensorsWriter w = SafetensorsWriter.create(fs, dir, layout)) {
            for (TensorInfo t : tensors) {
                float[] v = values.of(t);
                w.writeFloats(t.name(), v, 0, v.length);
            }
        }
        try (OutputStream out = fs.create(new Path(dir, "config.json"), true)) {
            out.write(Mappers.PRETTY.writeValueAsString(config).getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * Writes a vision-language checkpoint as mergekit's {@code mistral3} definition names one
     * ({@code Mistral3ForConditionalGeneration}): a text decoder of {@code textLayers} layers under
     * {@code language_model.} (embedding, three tensors a layer, norm, untied head), a vision tower of
     * {@code visionLayers} under {@code vision_tower.} (patch convolution, two tensors a layer, a
     * norm), a two-tensor projector under {@code multi_modal_projector.}; BF16 normal draws seeded by
     * {@code seed} and each tensor's name, and a config that counts each stack's layers in its
     * sub-config. The fixture of merges by {@code modules:}.
     */
    public static void writeVisionLanguage(String dir, int textLayers, int visionLayers, long seed,
            Configuration conf) {
        ObjectNode config = Mappers.JSON.createObjectNode();
        config.putArray("architectures").add("Mistral3ForConditionalGeneration");
        config.put("model_type", "mistral3");
        config.putObject("text_config").put("model_type", "mistral").put("num_hidden_layers", textLayers);
        config.putObject("vision_config").put("model_type", "pixtral").put("num_hidden_layers", visionLayers);
        List<TensorInfo> tensors = new ArrayList<>();
        tensors.add(bf16("language_model.model.embed_tokens.weight", 32, 8));
        for (int i = 0; i < textLayers; i++) {
            tensors.add(bf16("language_model.model.layers." + i + ".input_layernorm.weight", 8));
            tensors.add(bf16("language_model.model.layers." + i + ".self_attn.q_proj.weight", 8, 8));
            tensors.add(bf16("language_model.model.layers." + i + ".mlp.up_proj.weight", 16, 8));
        }
        tensors.add(bf16("language_model.model.norm.weight", 8));
        tensors.add(bf16("language_model.lm_head.weight", 32, 8));
        tensors.add(bf16("vision_tower.patch_conv.weight", 6, 3));
        for (int i = 0; i < visionLayers; i++) {
            tensors.add(bf16("vision_tower.transformer.layers." + i + ".attention_norm.weight", 6));
            tensors.add(bf16("vision_tower.transformer.layers." + i + ".attention.q_proj.weight", 6, 6));
        }
        tensors.add(bf16("vision_tower.ln_pre.weight", 6));
        tensors.add(bf16("multi_modal_projector.linear_1.weight", 8, 6));
        tensors.add(bf16("multi_modal_projector.norm.weight", 6));
        Path path = new Path(dir);
        try {
            writeLlama(path.getFileSystem(conf), path, config, tensors, t -> {
                SplittableRandom random = new SplittableRandom(seed * 1_000_003L + t.name().hashCode());
                float[] v = new float[Math.toIntExact(t.numElements())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) random.nextGaussian();
                }
                return v;
            }, Long.MAX_VALUE, Map.of());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir, e);
        }
    }

    private static TensorInfo bf16(String name, long... shape) {
        return new TensorInfo(name, DType.BF16, shape);
    }

    /**
     * A "fine-tune" of a real checkpoint: every floating-point tensor plus uniform noise of the given
     * amplitude, with the source's config and tokenizer files. Used where a test needs a second
     * runnable model that differs a little from the first.
     */
    public static void perturbedCopy(String source, String target, long seed, double amplitude, Configuration conf) {
        try (Checkpoint ckpt = Checkpoint.open(source, conf)) {
            SplittableRandom random = new SplittableRandom(seed);
            List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
            for (String name : ckpt.tensorNames()) {
                TensorInfo info = ckpt.info(name);
                float[] values = ckpt.readFloats(name);
                for (int i = 0; i < values.length; i++) {
                    values[i] += (float) ((random.nextDouble() - 0.5) * 2 * amplitude);
                }
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, info.dtype(), info.shape(), values));
            }
            Path dir = new Path(target);
            SafetensorsWriter.write(dir.getFileSystem(conf), dir, tensors, Long.MAX_VALUE, Map.of("format", "pt"));
            ModelFiles.copyAuxiliary(ckpt.root(), target, tensors.get(0).spec().dtype(), conf);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller on the generator's own doubles: SplittableRandom has no nextGaussian on Java 17.
        double u1 = 1.0 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static ObjectNode config(Shape s, DType dtype) {
        ObjectNode c = Mappers.JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", s.hidden());
        c.put("intermediate_size", s.intermediate());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("vocab_size", s.vocab());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("max_position_embeddings", 256);
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("torch_dtype", dtype.torchName());
        return c;
    }
}
