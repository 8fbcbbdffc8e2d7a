package dev.mergeval.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Shapes;
import dev.mergeval.runtime.llama.LlamaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * Writes tiny random Llama-family checkpoints (mergekit's test habit): a {@code config.json}, the
 * tensors the config implies with values keyed by (seed, tensor name), and a word-level
 * {@code tokenizer.json} whose vocabulary is {@code <unk> <s> </s> w3 w4 ...}.
 */
public final class TinyModels {

    private TinyModels() {
    }

    /** A base Llama config: hidden 32, 2 layers, 4 heads, 2 KV heads, vocab 64. */
    public static ObjectNode llamaConfig() {
        ObjectNode c = Mappers.JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("vocab_size", 64);
        c.put("hidden_size", 32);
        c.put("intermediate_size", 48);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 2);
        c.put("max_position_embeddings", 64);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", true);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        return c;
    }

    /** Writes config, weights (in {@code dtype}, shards of at most {@code maxShardBytes}) and tokenizer. */
    public static Path write(Path dir, ObjectNode config, DType dtype, long seed, long maxShardBytes) {
        return write(dir, config, dtype, seed, maxShardBytes, name -> true);
    }

    /** As {@link #write(Path, ObjectNode, DType, long, long)}, keeping only tensors {@code keep} accepts. */
    public static Path write(Path dir, ObjectNode config, DType dtype, long seed, long maxShardBytes,
            Predicate<String> keep) {
        try {
            List<TensorInfo> tensors = SyntheticModels.tensors(config, dtype).stream()
                    .filter(t -> keep.test(t.name())).toList();
            SyntheticModels.writeLlama(HadoopFs.local(), HadoopFs.of(dir), config, tensors,
                    t -> values(seed, t.name(), t.shape()), maxShardBytes, Map.of());
            writeTokenizer(dir, LlamaConfig.parse(config.toString(), "config.json").vocabSize());
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Norm weights near 1, everything else N(0, 0.2^2)-ish, from a stream keyed by (seed, name). */
    static float[] values(long seed, String name, long[] shape) {
        long n = Shapes.numElements(shape);
        SplittableRandom r = new SplittableRandom(seed * 31 + name.hashCode());
        float[] v = new float[(int) n];
        boolean norm = name.endsWith("norm.weight");
        for (int i = 0; i < v.length; i++) {
            double g = r.nextDouble(-1, 1) + r.nextDouble(-1, 1) + r.nextDouble(-1, 1);
            v[i] = (float) (norm ? 1 + 0.1 * g : 0.2 * g);
        }
        return v;
    }

    /** A word-level tokenizer: whitespace-split words {@code w3 .. w(V-1)}, BOS {@code <s>}, EOS {@code </s>}. */
    public static void writeTokenizer(Path dir, int vocab) throws IOException {
        ObjectMapper m = Mappers.JSON;
        ObjectNode root = m.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        var added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", specials[i]);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", false);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode v = model.putObject("vocab");
        for (int i = 0; i < vocab; i++) {
            v.put(i < 3 ? specials[i] : "w" + i, i);
        }
        model.put("unk_token", "<unk>");
        Files.writeString(dir.resolve("tokenizer.json"), root.toPrettyString(), StandardCharsets.UTF_8);
        ObjectNode tc = m.createObjectNode();
        tc.put("bos_token", "<s>");
        tc.put("eos_token", "</s>");
        tc.put("add_bos_token", true);
        Files.writeString(dir.resolve("tokenizer_config.json"), tc.toPrettyString(), StandardCharsets.UTF_8);
    }
}
