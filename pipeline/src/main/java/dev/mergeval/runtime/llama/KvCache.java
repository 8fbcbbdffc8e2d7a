package dev.mergeval.runtime.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * Keys (after RoPE) and values of every layer for the positions seen so far, each
 * {@code [batch, kv_heads, positions, head_dim]}. Immutable: {@link LlamaForward} returns a new
 * cache that extends the one it was given.
 */
public record KvCache(List<NDArray> keys, List<NDArray> values) {

    public KvCache {
        keys = List.copyOf(keys);
        values = List.copyOf(values);
        if (keys.size() != values.size()) {
            throw new IllegalArgumentException("keys and values cover different layer counts");
        }
    }

    /** Positions held (the third axis). */
    public long length() {
        return keys.isEmpty() ? 0 : keys.get(0).getShape().get(2);
    }

    /** All arrays, e.g. to {@code attach} them to another manager or close them. */
    public NDList arrays() {
        NDList all = new NDList();
        all.addAll(keys);
        all.addAll(values);
        return all;
    }

    /** Moves every array to {@code manager} (which then owns and frees them). */
    public KvCache attach(NDManager manager) {
        arrays().attach(manager);
        return this;
    }
}
