package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where each tensor of a {@code models:} merge sits for its gradients, the {@code t} in [0, 1] that
 * mergekit's planner evaluates a parameter's list at: layer {@code i} of {@code L} gets
 * {@code i / (L - 1)} ({@code 1} when {@code L == 1}); the tensors outside the layers (embeddings,
 * final norm, LM head) get 0, where mergekit's module-level config reader stays.
 *
 * <p>A model with two or more stacks of layers (a vision-language model's vision encoder beside
 * its decoder) counts {@code L} per stack, as mergekit plans each module with its own layer count:
 * Qwen2-VL's 32 vision blocks beside 28 decoder layers.
 *
 * <p>A model may hold {@code config.json}'s {@code num_nextn_predict_layers} multi-token-prediction
 * layers after its last decoder layer, numbered on in the same stack (GLM-4.5's
 * {@code model.layers.46} beside 46 layers, DeepSeek-V3's {@code model.layers.61}). They are not
 * counted in {@code L}; each takes the last layer's position, {@code t = 1}, as it reads the last
 * layer's output. mergekit's architectures list no such layer and leave them out; here they are
 * merged, so a merge keeps what speculative decoding (vLLM's MTP) loads.
 *
 * <p>A value (serializable): a plan carries it to the executors.
 *
 * @param layers the decoder's layer count, from its config ({@link MergeLayout#layerCount})
 * @param trailing the multi-token-prediction layers after the last (0 for most models)
 * @param stacks each stack's layer count where the model has two or more stacks, else empty
 */
public record LayerPositions(int layers, int trailing, Map<String, Integer> stacks) implements Serializable {

    /** The {@code config.json} key that counts a model's multi-token-prediction layers. */
    static final String TRAILING_KEY = "num_nextn_predict_layers";

    public LayerPositions {
        if (layers < 0 || trailing < 0) {
            throw new IllegalArgumentException("layer counts must be >= 0, got " + layers + " and " + trailing);
        }
        stacks = Map.copyOf(stacks);
    }

    /** A model of one stack of {@code layers} layers and no others. */
    public static LayerPositions of(int layers) {
        return new LayerPositions(layers, 0, Map.of());
    }

    /**
     * The positions in a model of {@code layers} decoder layers and {@code trailing}
     * multi-token-prediction ones, holding {@code tensorNames}: its stacks counted where it has two
     * or more, and a stack of {@code layers + trailing} counted as the decoder's {@code layers}.
     */
    public static LayerPositions of(int layers, int trailing, Iterable<String> tensorNames) {
        Map<String, Integer> counts = new HashMap<>();
        for (String name : tensorNames) {
            int layer = TensorMerger.layerIndex(name);
            if (layer >= 0) {
                counts.merge(TensorMerger.layerStack(name), layer + 1, Math::max);
            }
        }
        if (counts.size() < 2) {
            return new LayerPositions(layers, trailing, Map.of());
        }
        if (trailing > 0) {
            counts.replaceAll((stack, n) -> n == layers + trailing ? layers : n);
        }
        return new LayerPositions(layers, trailing, counts);
    }

    /** The multi-token-prediction layers a model's {@code config.json} declares ({@link #TRAILING_KEY}), else 0. */
    public static int trailingLayers(JsonNode config) {
        JsonNode n = config == null ? null : config.get(TRAILING_KEY);
        return n != null && n.canConvertToInt() && n.asInt() > 0 ? n.asInt() : 0;
    }

    /** The first of {@code tensorNames} in a layer beyond its stack's count and the trailing layers, if any. */
    public Optional<String> firstBeyond(Iterable<String> tensorNames) {
        for (String name : tensorNames) {
            int layer = TensorMerger.layerIndex(name);
            if (layer >= 0 && layer >= count(name) + trailing) {
                return Optional.of(name);
            }
        }
        return Optional.empty();
    }

    private int count(String tensorName) {
        return stacks.isEmpty() ? layers : stacks.getOrDefault(TensorMerger.layerStack(tensorName), layers);
    }

    /** The gradient position {@code t} in [0, 1] of {@code tensorName} (see the class comment). */
    public double position(String tensorName) {
        int layer = TensorMerger.layerIndex(tensorName);
        if (layer < 0) {
            return 0.0;
        }
        int count = count(tensorName);
        if (layer >= count) {
            if (layer < count + trailing) {
                return 1.0;
            }
            throw new BadInputException(tensorName + ": layer index " + layer + " is not below the model's layer count "
                    + count + (trailing > 0 ? " and its " + trailing + " " + TRAILING_KEY : ""));
        }
        return count > 1 ? layer / (double) (count - 1) : 1.0;
    }
}
