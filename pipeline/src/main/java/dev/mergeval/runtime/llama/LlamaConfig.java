package dev.mergeval.runtime.llama;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.util.ArrayList;
import java.util.List;

/**
 * Architecture hyperparameters of a Llama-family model, as read from a Hugging Face
 * {@code config.json}. One record covers {@code LlamaForCausalLM}, {@code MistralForCausalLM} and
 * {@code Qwen2ForCausalLM}; their differences are fields ({@link #qkvBias}, {@link #outputBias},
 * {@link #ropeScaling}).
 *
 * @param architecture the {@code architectures[0]} class name
 * @param vocabSize rows of the embedding matrix
 * @param hiddenSize width of the residual stream
 * @param intermediateSize width of the SwiGLU MLP
 * @param numHiddenLayers decoder layers
 * @param numAttentionHeads query heads
 * @param numKeyValueHeads key/value heads (grouped-query attention when fewer than query heads)
 * @param headDim width of one head (HF default {@code hidden_size / num_attention_heads})
 * @param rmsNormEps epsilon inside RMSNorm's square root
 * @param ropeTheta RoPE base
 * @param ropeScaling RoPE frequency scaling, or {@code null}
 * @param maxPositionEmbeddings longest sequence the model supports
 * @param tieWordEmbeddings whether the output projection is the embedding matrix
 * @param qkvBias whether q/k/v projections have biases (Qwen2 always; Llama with
 *     {@code attention_bias})
 * @param outputBias whether the attention output projection has a bias (Llama with
 *     {@code attention_bias})
 * @param mlpBias whether the MLP projections have biases ({@code mlp_bias})
 * @param bosTokenId BOS id from the config, or -1
 * @param eosTokenIds EOS ids from the config (may be empty)
 */
public record LlamaConfig(
        String architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean qkvBias,
        boolean outputBias,
        boolean mlpBias,
        int bosTokenId,
        List<Integer> eosTokenIds) {

    /** The architectures this runtime implements. */
    public static final List<String> SUPPORTED_ARCHITECTURES =
            List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    public LlamaConfig {
        if (!SUPPORTED_ARCHITECTURES.contains(architecture)) {
            throw new BadInputException("unsupported architecture '" + architecture
                    + "' (supported: " + String.join(", ", SUPPORTED_ARCHITECTURES) + ")");
        }
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new BadInputException("config: num_attention_heads " + numAttentionHeads
                    + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
        }
        if (headDim % 2 != 0) {
            throw new BadInputException("config: head_dim must be even for RoPE, got " + headDim);
        }
        if (!(rmsNormEps > 0)) {
            throw new BadInputException("config: rms_norm_eps must be > 0, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0)) {
            throw new BadInputException("config: rope_theta must be > 0, got " + ropeTheta);
        }
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    private static void positive(String key, int value) {
        if (value <= 0) {
            throw new BadInputException("config: " + key + " must be > 0, got " + value);
        }
    }

    /** This config with {@code num_hidden_layers} set to {@code layers} (a merge of layer slices). */
    public LlamaConfig withNumHiddenLayers(int layers) {
        return new LlamaConfig(architecture, vocabSize, hiddenSize, intermediateSize, layers, numAttentionHeads,
                numKeyValueHeads, headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings,
                tieWordEmbeddings, qkvBias, outputBias, mlpBias, bosTokenId, eosTokenIds);
    }

    /** This config with {@code vocab_size} set to {@code rows} (a merge of embeddings cut to their common rows). */
    public LlamaConfig withVocabSize(int rows) {
        return new LlamaConfig(architecture, rows, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads,
                numKeyValueHeads, headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings,
                tieWordEmbeddings, qkvBias, outputBias, mlpBias, bosTokenId, eosTokenIds);
    }

    /** Query heads that share one key/value head. */
    public int groupSize() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /**
     * RoPE frequency scaling ({@code rope_scaling}). Supported types: {@code linear} (positions
     * divided by {@code factor}) and {@code llama3} (Llama 3.1's wavelength-dependent scaling).
     */
    public record RopeScaling(
            String type,
            double factor,
            double lowFreqFactor,
            double highFreqFactor,
            int originalMaxPositionEmbeddings) {

        public static final List<String> SUPPORTED_TYPES = List.of("linear", "llama3");

        public RopeScaling {
            if (!SUPPORTED_TYPES.contains(type)) {
                throw new BadInputException("config: unsupported rope_scaling type '" + type
                        + "' (supported: default, " + String.join(", ", SUPPORTED_TYPES) + ")");
            }
            if (!(factor > 0)) {
                throw new BadInputException("config: rope_scaling.factor must be > 0, got " + factor);
            }
            if (type.equals("llama3")) {
                if (!(highFreqFactor > lowFreqFactor) || !(lowFreqFactor > 0)) {
                    throw new BadInputException("config: rope_scaling needs high_freq_factor > low_freq_factor > 0, got "
                            + highFreqFactor + " and " + lowFreqFactor);
                }
                if (originalMaxPositionEmbeddings <= 0) {
                    throw new BadInputException(
                            "config: rope_scaling.original_max_position_embeddings must be > 0");
                }
            }
        }
    }

    /** Parses a {@code config.json} text; {@code source} names the file in error messages. */
    public static LlamaConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = Mappers.JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new BadInputException(source + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(source + ": expected a JSON object");
        }
        JsonNode archs = root.path("architectures");
        if (!archs.isArray() || archs.isEmpty()) {
            throw new BadInputException(source + ": missing key 'architectures'");
        }
        String architecture = archs.get(0).asText();
        if (!SUPPORTED_ARCHITECTURES.contains(architecture)) {
            throw new BadInputException(source + ": unsupported architecture '" + architecture
                    + "' (supported: " + String.join(", ", SUPPORTED_ARCHITECTURES) + ")");
        }
        boolean qwen2 = architecture.equals("Qwen2ForCausalLM");
        int hidden = requiredInt(root, "hidden_size", source);
        int heads = requiredInt(root, "num_attention_heads", source);
        int headDim = root.hasNonNull("head_dim") ? root.get("head_dim").asInt() : hidden / heads;
        boolean attentionBias = root.path("attention_bias").asBoolean(false);
        try {
            return new LlamaConfig(
                    architecture,
                    requiredInt(root, "vocab_size", source),
                    hidden,
                    requiredInt(root, "intermediate_size", source),
                    requiredInt(root, "num_hidden_layers", source),
                    heads,
                    root.hasNonNull("num_key_value_heads") ? root.get("num_key_value_heads").asInt() : heads,
                    headDim,
                    root.path("rms_norm_eps").asDouble(1e-6),
                    root.path("rope_theta").asDouble(10000.0),
                    ropeScaling(root.path("rope_scaling"), source),
                    root.path("max_position_embeddings").asInt(2048),
                    root.path("tie_word_embeddings").asBoolean(qwen2),
                    qwen2 || attentionBias,
                    !qwen2 && attentionBias,
                    root.path("mlp_bias").asBoolean(false),
                    root.path("bos_token_id").isIntegralNumber() ? root.get("bos_token_id").asInt() : -1,
                    intList(root.path("eos_token_id")));
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + e.getMessage(), e);
        }
    }

    private static int requiredInt(JsonNode root, String key, String source) {
        JsonNode n = root.get(key);
        if (n == null || !n.isIntegralNumber()) {
            throw new BadInputException(source + ": missing or non-integer key '" + key + "'");
        }
        return n.asInt();
    }

    private static RopeScaling ropeScaling(JsonNode n, String source) {
        if (n.isMissingNode() || n.isNull()) {
            return null;
        }
        // HF renamed "type" to "rope_type"; either may appear.
        String type = n.hasNonNull("rope_type") ? n.get("rope_type").asText() : n.path("type").asText("default");
        if (type.equals("default")) {
            return null;
        }
        return new RopeScaling(
                type,
                n.path("factor").asDouble(1.0),
                n.path("low_freq_factor").asDouble(1.0),
                n.path("high_freq_factor").asDouble(4.0),
                n.path("original_max_position_embeddings").asInt(0));
    }

    /** Reads an id or a list of ids (HF allows both for {@code eos_token_id}). */
    public static List<Integer> intList(JsonNode n) {
        List<Integer> out = new ArrayList<>();
        if (n.isIntegralNumber()) {
            out.add(n.asInt());
        } else if (n.isArray()) {
            n.forEach(e -> out.add(e.asInt()));
        }
        return out;
    }
}
