package dev.mergeval.runtime.llama;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Hugging Face tensor names and shapes of a Llama-family checkpoint. Weight matrices are
 * {@code [out_features, in_features]}, as {@code torch.nn.Linear} stores them.
 */
public final class LlamaLayout {

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private LlamaLayout() {
    }

    /** Name of a tensor in decoder layer {@code layer}, e.g. {@code self_attn.q_proj.weight}. */
    public static String layer(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    /**
     * Every tensor the forward pass reads, in checkpoint order, with its expected shape. A tied
     * model has no {@code lm_head.weight} here (checkpoints that still carry one are accepted and
     * the extra tensor ignored).
     */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        long d = c.hiddenSize();
        long qDim = (long) c.numAttentionHeads() * c.headDim();
        long kvDim = (long) c.numKeyValueHeads() * c.headDim();
        long ff = c.intermediateSize();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put(EMBED, new long[] {c.vocabSize(), d});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            shapes.put(layer(i, "input_layernorm.weight"), new long[] {d});
            shapes.put(layer(i, "self_attn.q_proj.weight"), new long[] {qDim, d});
            shapes.put(layer(i, "self_attn.k_proj.weight"), new long[] {kvDim, d});
            shapes.put(layer(i, "self_attn.v_proj.weight"), new long[] {kvDim, d});
            if (c.qkvBias()) {
                shapes.put(layer(i, "self_attn.q_proj.bias"), new long[] {qDim});
                shapes.put(layer(i, "self_attn.k_proj.bias"), new long[] {kvDim});
                shapes.put(layer(i, "self_attn.v_proj.bias"), new long[] {kvDim});
            }
            shapes.put(layer(i, "self_attn.o_proj.weight"), new long[] {d, qDim});
            if (c.outputBias()) {
                shapes.put(layer(i, "self_attn.o_proj.bias"), new long[] {d});
            }
            shapes.put(layer(i, "post_attention_layernorm.weight"), new long[] {d});
            shapes.put(layer(i, "mlp.gate_proj.weight"), new long[] {ff, d});
            shapes.put(layer(i, "mlp.up_proj.weight"), new long[] {ff, d});
            shapes.put(layer(i, "mlp.down_proj.weight"), new long[] {d, ff});
            if (c.mlpBias()) {
                shapes.put(layer(i, "mlp.gate_proj.bias"), new long[] {ff});
                shapes.put(layer(i, "mlp.up_proj.bias"), new long[] {ff});
                shapes.put(layer(i, "mlp.down_proj.bias"), new long[] {d});
            }
        }
        shapes.put(FINAL_NORM, new long[] {d});
        if (!c.tieWordEmbeddings()) {
            shapes.put(LM_HEAD, new long[] {c.vocabSize(), d});
        }
        return shapes;
    }
}
