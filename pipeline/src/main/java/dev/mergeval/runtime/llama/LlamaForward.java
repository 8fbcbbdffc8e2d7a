package dev.mergeval.runtime.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Llama-family decoder as a pure function: {@code (parameters, token ids, mask, cache) ->
 * (logits, cache)}. Written only with differentiable {@code NDArray} operations, so the same code
 * runs inference and training under a {@code GradientCollector}. It follows Hugging Face's
 * {@code modeling_llama.py}:
 *
 * <pre>
 *   h_0   = embed[ids]
 *   a     = h + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = rmsnorm(h)
 *   h'    = a + down_proj(silu(gate_proj(m)) * up_proj(m))                       m = rmsnorm(a)
 *   logits = lm_head(rmsnorm(h_L))
 *   rmsnorm(x) = w * x / sqrt(mean(x^2) + eps)
 *   rope(x)    = x * cos(p * f) + rotate_half(x) * sin(p * f),  rotate_half([x1, x2]) = [-x2, x1]
 *   attention  = softmax(q k^T / sqrt(head_dim) + mask) v   (grouped-query: head h reads kv head h / group;
 *                sliding-window layers mask keys more than sliding_window - 1 positions back)
 * </pre>
 *
 * <p>Ownership: every array this class creates belongs to the manager of {@code inputIds} (DJL
 * gives an op's result to its first operand's manager, and every op here starts from an activation,
 * never from a parameter). A caller that runs each step in a sub-manager and attaches the previous
 * cache to it frees all temporaries when the step closes.
 *
 * <p>Precision: activations keep the parameters' dtype (F32 on CPU, F16 on GPU); RMSNorm, softmax
 * and the returned logits are computed in F32, as Hugging Face does.
 */
public final class LlamaForward {

    /** Added to the scores of masked keys; finite so that fully masked (padding) rows stay NaN-free. */
    private static final float MASKED = -1e9f;

    private final LlamaConfig config;
    private final float[] inverseFrequencies;

    public LlamaForward(LlamaConfig config) {
        this.config = config;
        this.inverseFrequencies = RopeFrequencies.inverseFrequencies(config);
    }

    public LlamaConfig config() {
        return config;
    }

    /**
     * Refuses a token id the embedding has no row for: a tokenizer with more tokens than
     * {@code config.json}'s {@code vocab_size}, where the native lookup would fail with no name.
     */
    public void checkTokenIds(int[] ids, String what) {
        for (int id : ids) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new BadInputException(what + ": token id " + id + " is outside the model's vocabulary of "
                        + config.vocabSize() + " (config.json's vocab_size; its tokenizer has more tokens)");
            }
        }
    }

    /** Logits and the extended cache of one forward call. */
    public record Output(NDArray logits, KvCache cache) {
    }

    /**
     * Runs the decoder over {@code inputIds} without a cache, with every position real: the
     * training entry point. Returns logits {@code [B, T, vocab]} in F32.
     */
    public NDArray logits(Map<String, NDArray> params, NDArray inputIds) {
        return forward(params, inputIds, null, null, true).logits();
    }

    /**
     * Runs the decoder.
     *
     * @param params parameters by Hugging Face name (see {@link LlamaLayout}); all one dtype
     * @param inputIds {@code [B, T]} token ids (int32 or int64)
     * @param attentionMask {@code [B, P + T]} with 1 for real tokens and 0 for (left) padding,
     *     covering the cached positions and the new ones; {@code null} means all real. Positions
     *     for RoPE are counted over real tokens only, so a left-padded row gets the same positions
     *     as the unpadded sequence.
     * @param cache keys and values of the {@code P} previous positions, or {@code null}
     * @param allPositions logits for every position ({@code [B, T, V]}), or only the last
     *     ({@code [B, 1, V]})
     */
    public Output forward(
            Map<String, NDArray> params,
            NDArray inputIds,
            NDArray attentionMask,
            KvCache cache,
            boolean allPositions) {
        Shape idShape = inputIds.getShape();
        if (idShape.dimension() != 2) {
            throw new IllegalArgumentException("inputIds must be [batch, time], got " + idShape);
        }
        long batch = idShape.get(0);
        long time = idShape.get(1);
        long past = cache == null ? 0 : cache.length();
        long total = past + time;
        // with a mask, rows are left-padded to a common width and their real lengths are the caller's
        // to bound (a batch's finished rows may run past the context; their outputs are dropped)
        if (attentionMask == null && total > config.maxPositionEmbeddings()) {
            throw new BadInputException("sequence of " + total + " tokens exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        if (attentionMask != null && !attentionMask.getShape().equals(new Shape(batch, total))) {
            throw new IllegalArgumentException(
                    "attentionMask must be [" + batch + ", " + total + "], got " + attentionMask.getShape());
        }
        NDManager scope = inputIds.getManager();
        NDArray ids = toType(inputIds, DataType.INT64);

        NDArray embed = param(params, LlamaLayout.EMBED);
        DataType dtype = embed.getDataType();
        NDArray h = Embedding.embedding(ids, embed, SparseFormat.DENSE).singletonOrThrow();

        NDArray positions = positions(scope, attentionMask, past, time);
        NDList cosSin = rotaryCosSin(positions, dtype);
        // one new token with no padding may see every key: no mask needed
        NDArray mask = attentionMask == null && time == 1 ? null : additiveMask(scope, attentionMask, batch, past, time, 0);
        int window = config.slidingWindow();
        NDArray slidingMask = window == 0 || (attentionMask == null && time == 1 && total <= window) ? mask
                : additiveMask(scope, attentionMask, batch, past, time, window);

        // one scale for every layer; TorchMemory keeps it alive for the backward pass
        NDArray scale = TorchMemory.scalar(scope, 1.0 / Math.sqrt(config.headDim()));
        List<NDArray> keys = new ArrayList<>();
        List<NDArray> values = new ArrayList<>();
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            NDArray n = rmsNorm(h, param(params, LlamaLayout.layer(layer, "input_layernorm.weight")));
            NDArray attn = attention(params, layer, n, cosSin, config.slides(layer) ? slidingMask : mask, scale, cache,
                    keys, values);
            h = h.add(attn);
            NDArray m = rmsNorm(h, param(params, LlamaLayout.layer(layer, "post_attention_layernorm.weight")));
            h = h.add(mlp(params, layer, m));
        }
        if (!allPositions) {
            h = h.get(new NDIndex(":, -1:, :"));
        }
        h = rmsNorm(h, param(params, LlamaLayout.FINAL_NORM));
        NDArray head = config.tieWordEmbeddings() ? embed : param(params, LlamaLayout.LM_HEAD);
        NDArray logits = Linear.linear(h, head).singletonOrThrow();
        return new Output(toType(logits, DataType.FLOAT32), new KvCache(keys, values));
    }

    /** Self-attention of one layer; appends this layer's full keys and values to the out-lists. */
    private NDArray attention(
            Map<String, NDArray> params,
            int layer,
            NDArray x,
            NDList cosSin,
            NDArray mask,
            NDArray scale,
            KvCache cache,
            List<NDArray> keysOut,
            List<NDArray> valuesOut) {
        long batch = x.getShape().get(0);
        long time = x.getShape().get(1);
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int group = config.groupSize();
        int headDim = config.headDim();

        // [B, T, H * hd] -> [B, H, T, hd]
        NDArray q = projection(params, layer, "self_attn.q_proj", config.qkvBias(), x)
                .reshape(batch, time, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = projection(params, layer, "self_attn.k_proj", config.qkvBias(), x)
                .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3);
        NDArray v = projection(params, layer, "self_attn.v_proj", config.qkvBias(), x)
                .reshape(batch, time, kvHeads, headDim).transpose(0, 2, 1, 3);
        q = applyRope(q, cosSin);
        k = applyRope(k, cosSin);
        if (cache != null && cache.length() > 0) {
            k = cache.keys().get(layer).concat(k, 2);
            v = cache.values().get(layer).concat(v, 2);
        }
        keysOut.add(k);
        valuesOut.add(v);
        long keysLen = k.getShape().get(2);

        // Grouped-query attention without copying K/V: heads h = j * group + g share kv head j, so
        // [B, H, T, hd] viewed as [B, KV, group * T, hd] lines each query row up with its kv head.
        NDArray qg = q.reshape(batch, kvHeads, (long) group * time, headDim);
        NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)).mul(scale);
        NDArray probs = toType(scores, DataType.FLOAT32).reshape(batch, kvHeads, group, time, keysLen);
        if (mask != null) {
            probs = probs.add(mask);
        }
        probs = probs.softmax(-1);
        probs = toType(probs, v.getDataType()).reshape(batch, kvHeads, (long) group * time, keysLen);
        NDArray out = probs.matMul(v) // [B, KV, group * T, hd]
                .reshape(batch, heads, time, headDim)
                .transpose(0, 2, 1, 3)
                .reshape(batch, time, (long) heads * headDim);
        return projection(params, layer, "self_attn.o_proj", config.outputBias(), out);
    }

    private NDArray mlp(Map<String, NDArray> params, int layer, NDArray x) {
        boolean bias = config.mlpBias();
        NDArray gate = projection(params, layer, "mlp.gate_proj", bias, x);
        NDArray up = projection(params, layer, "mlp.up_proj", bias, x);
        NDArray act = gate.mul(Activation.sigmoid(gate)); // silu(x) = x * sigmoid(x)
        return projection(params, layer, "mlp.down_proj", bias, act.mul(up));
    }

    private static NDArray projection(
            Map<String, NDArray> params, int layer, String name, boolean bias, NDArray x) {
        NDArray w = param(params, LlamaLayout.layer(layer, name + ".weight"));
        NDList out = bias
                ? Linear.linear(x, w, param(params, LlamaLayout.layer(layer, name + ".bias")))
                : Linear.linear(x, w);
        return out.singletonOrThrow();
    }

    /** {@code w * x / sqrt(mean(x^2) + eps)}, computed in F32 and returned in x's dtype. */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        DataType dtype = x.getDataType();
        NDArray x32 = toType(x, DataType.FLOAT32);
        NDArray normed = x32.div(x32.square().mean(new int[] {-1}, true).add(config.rmsNormEps()).sqrt());
        return toType(normed, dtype).mul(weight);
    }

    /**
     * RoPE positions {@code [B, T]}: the count of real tokens before each position (so left
     * padding does not shift them), clamped at 0 for the padding itself.
     */
    private static NDArray positions(NDManager scope, NDArray attentionMask, long past, long time) {
        if (attentionMask == null) {
            return scope.arange((int) past, (int) (past + time), 1, DataType.INT64).reshape(1, time);
        }
        NDArray counts = toType(attentionMask, DataType.INT64).cumSum(1).sub(1);
        return counts.get(new NDIndex(":, {}:", past)).maximum(0);
    }

    /** cos and sin of {@code position * inverse_frequency}, each {@code [B, 1, T, head_dim]}. */
    private NDList rotaryCosSin(NDArray positions, DataType dtype) {
        NDManager scope = positions.getManager();
        NDArray inv = scope.create(inverseFrequencies);
        // HF: freqs = positions (float32) x inv_freq; emb = cat(freqs, freqs)
        NDArray freqs = positions.toType(DataType.FLOAT32, false).expandDims(2).mul(inv);
        NDArray emb = freqs.concat(freqs, 2).expandDims(1);
        return new NDList(toType(emb.cos(), dtype), toType(emb.sin(), dtype));
    }

    private static NDArray applyRope(NDArray x, NDList cosSin) {
        // x is [B, heads, T, head_dim]; DJL's split needs a non-negative axis.
        NDList halves = x.split(2, 3);
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), 3);
        return x.mul(cosSin.get(0)).add(rotated.mul(cosSin.get(1)));
    }

    /**
     * Additive attention mask {@code [B, 1, 1, T, P + T]} (F32): 0 where query {@code P + t} may see
     * key {@code s} (causal, the key is not padding and, with a {@code window} > 0, is one of the
     * query's last {@code window} positions, itself included, as Hugging Face's sliding window),
     * {@link #MASKED} elsewhere. Padding is only on the left, so distances between real tokens are
     * the same in the padded positions.
     */
    private static NDArray additiveMask(NDManager scope, NDArray attentionMask, long batch, long past, long time,
            int window) {
        long total = past + time;
        NDArray keyPos = scope.arange(0, (int) total, 1, DataType.INT64).reshape(1, 1, total);
        NDArray queryPos = scope.arange((int) past, (int) total, 1, DataType.INT64).reshape(1, time, 1);
        NDArray allowed = keyPos.lte(queryPos); // [1, T, P + T]
        if (window > 0) {
            allowed = allowed.logicalAnd(keyPos.gt(queryPos.sub(window)));
        }
        if (attentionMask != null) {
            allowed = allowed.logicalAnd(attentionMask.gt(0).reshape(batch, 1, total));
        }
        return allowed.toType(DataType.FLOAT32, false)
                .sub(1f)
                .mul(-MASKED)
                .reshape(allowed.getShape().get(0), 1, 1, time, total);
    }

    /** A cast that costs no native call when the dtype already matches. */
    private static NDArray toType(NDArray x, DataType dtype) {
        return x.getDataType() == dtype ? x : x.toType(dtype, false);
    }

    private static NDArray param(Map<String, NDArray> params, String name) {
        NDArray p = params.get(name);
        if (p == null) {
            throw new BadInputException("missing tensor '" + name + "'");
        }
        return p;
    }
}
