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
 * @param slidingWindow keys a query sees, itself included, in the sliding-window layers (Mistral's
 *     {@code sliding_window}; Qwen2's with {@code use_sliding_window}), or 0 for full attention
 * @param firstSlidingLayer the first layer with the sliding window (Qwen2's
 *     {@code max_window_layers}; 0 for Mistral)
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
        int slidingWindow,
        int firstSlidingLayer,
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
        if (slidingWindow < 0 || firstSlidingLayer < 0) {
            throw new BadInputException("config: sliding_window and max_window_layers must be >= 0, got "
                    + slidingWindow + " and " + firstSlidingLayer);
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
                tieWordEmbeddings, qkvBias, outputBias, mlpBias, slidingWindow, firstSlidingLayer, bosTokenId,
                eosTokenIds);
    }

    /** This config with {@code vocab_size} set to {@code rows} (a merge of embeddings cut to their common rows). */
    public LlamaConfig withVocabSize(int rows) {
        return new LlamaConfig(architecture, rows, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads,
                numKeyValueHeads, headDim, rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings,
                tieWordEmbeddings, qkvBias, outputBias, mlpBias, slidingWindow, firstSlidingLayer, bosTokenId,
                eosTokenIds);
    }

    /** Whether {@code layer}'s queries see only the last {@link #slidingWindow} keys. */
    public boolean slides(int layer) {
        return slidingWindow > 0 && layer >= firstSlidingLayer;
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
            checkType(type);
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

        static void checkType(String type) {
            if (!SUPPORTED_TYPES.contains(type)) {
                throw new BadInputException("config: unsupported rope_scaling type '" + type
                        + "' (supported: default, " + String.join(", ", SUPPORTED_TYPES) + ")");
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
        try {
            // the MLP is SwiGLU: another activation would run as SiLU, silently wrong
            String act = root.path("hidden_act").asText("silu");
            if (!act.equals("silu") && !act.equals("swish")) {
                throw new BadInputException("hidden_act '" + act + "' is not supported (supported: silu, swish)");
            }
            int hidden = requiredInt(root, "hidden_size");
            int heads = requiredInt(root, "num_attention_heads");
            int headDim = root.hasNonNull("head_dim") ? requiredInt(root, "head_dim") : heads > 0 ? hidden / heads : 0;
            boolean attentionBias = bool(root, "attention_bias");
            int[] window = slidingWindow(root, architecture);
            return new LlamaConfig(
                    architecture,
                    requiredInt(root, "vocab_size"),
                    hidden,
                    requiredInt(root, "intermediate_size"),
                    requiredInt(root, "num_hidden_layers"),
                    heads,
                    root.hasNonNull("num_key_value_heads") ? requiredInt(root, "num_key_value_heads") : heads,
                    headDim,
                    number(root, "rms_norm_eps", 1e-6),
                    number(root, "rope_theta", 10000.0),
                    ropeScaling(root.path("rope_scaling")),
                    root.hasNonNull("max_position_embeddings") ? requiredInt(root, "max_position_embeddings") : 2048,
                    root.hasNonNull("tie_word_embeddings") ? bool(root, "tie_word_embeddings") : qwen2,
                    qwen2 || attentionBias,
                    !qwen2 && attentionBias,
                    bool(root, "mlp_bias"),
                    window[0],
                    window[1],
                    root.path("bos_token_id").isIntegralNumber() ? root.get("bos_token_id").asInt() : -1,
                    intList(root.path("eos_token_id")));
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code [window, first layer]} as Hugging Face reads them: Mistral slides every layer where
     * {@code sliding_window} is set; Qwen2 only with {@code use_sliding_window}, from layer
     * {@code max_window_layers} on (its config's defaults 4096 and 28); Llama never.
     */
    private static int[] slidingWindow(JsonNode root, String architecture) {
        switch (architecture) {
            case "MistralForCausalLM":
                return new int[] {root.hasNonNull("sliding_window") ? requiredInt(root, "sliding_window") : 0, 0};
            case "Qwen2ForCausalLM":
                if (!bool(root, "use_sliding_window")) {
                    return new int[] {0, 0};
                }
                return new int[] {root.hasNonNull("sliding_window") ? requiredInt(root, "sliding_window") : 4096,
                        root.hasNonNull("max_window_layers") ? requiredInt(root, "max_window_layers") : 28};
            default:
                return new int[] {0, 0};
        }
    }

    private static int requiredInt(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new BadInputException("missing or non-integer key '" + key + "'" + (n == null ? "" : ", got " + n));
        }
        return n.asInt();
    }

    private static double number(JsonNode root, String key, double absent) {
        return number(root, key, absent, "");
    }

    /** {@code node}'s number {@code key}, {@code absent} where it has none; {@code where} prefixes the key in errors. */
    private static double number(JsonNode node, String key, double absent, String where) {
        JsonNode n = node.get(key);
        if (n == null || n.isNull()) {
            return absent;
        }
        if (!n.isNumber()) {
            throw new BadInputException("'" + where + key + "' must be a number, got " + n);
        }
        return n.asDouble();
    }

    private static boolean bool(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw new BadInputException("'" + key + "' must be true or false, got " + n);
        }
        return n.asBoolean();
    }

    /**
     * {@code rope_scaling} with the keys its type requires, as Hugging Face's validation requires
     * them ({@code factor}; llama3 also the two frequency factors and the original context).
     */
    private static RopeScaling ropeScaling(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw new BadInputException("rope_scaling must be an object or null, got " + n);
        }
        // HF renamed "type" to "rope_type"; either may appear.
        JsonNode typeNode = n.hasNonNull("rope_type") ? n.get("rope_type") : n.get("type");
        if (typeNode == null || !typeNode.isTextual()) {
            throw new BadInputException("rope_scaling names no rope_type (or type): " + n);
        }
        String type = typeNode.asText();
        if (type.equals("default")) {
            return null;
        }
        RopeScaling.checkType(type);
        boolean llama3 = type.equals("llama3");
        return new RopeScaling(
                type,
                scalingNumber(n, "factor", true),
                scalingNumber(n, "low_freq_factor", llama3),
                scalingNumber(n, "high_freq_factor", llama3),
                llama3 ? (int) scalingNumber(n, "original_max_position_embeddings", true) : 0);
    }

    private static double scalingNumber(JsonNode scaling, String key, boolean required) {
        if (required && !scaling.hasNonNull(key)) {
            throw new BadInputException("rope_scaling is missing '" + key + "'");
        }
        return number(scaling, key, 0, "rope_scaling.");
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
