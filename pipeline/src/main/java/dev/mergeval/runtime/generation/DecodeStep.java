package dev.mergeval.runtime.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.mergeval.runtime.llama.KvCache;
import dev.mergeval.runtime.llama.LlamaForward;
import java.util.Map;

/**
 * One forward call of a decode loop in its own DJL scope: the inputs, every temporary and the
 * previous cache die with the step; only the new cache survives, attached to the loop's manager.
 * This keeps native memory flat over thousands of steps.
 */
final class DecodeStep {

    private DecodeStep() {
    }

    /** The next-token logits {@code [B][V]} (copied to Java) and the extended cache. */
    record Result(float[][] logits, KvCache cache) {
    }

    static Result run(
            LlamaForward forward,
            Map<String, NDArray> params,
            NDManager loop,
            long[] ids,
            int batch,
            long[] mask,
            KvCache cache) {
        try (NDManager step = loop.newSubManager()) {
            int time = ids.length / batch;
            NDArray input = step.create(ids).reshape(batch, time);
            NDArray maskArr = mask == null ? null : step.create(mask).reshape(batch, mask.length / batch);
            if (cache != null) {
                cache.attach(step);
            }
            LlamaForward.Output out = forward.forward(params, input, maskArr, cache, false);
            float[] flat = out.logits().toFloatArray();
            int vocab = flat.length / batch;
            float[][] rows = new float[batch][];
            for (int b = 0; b < batch; b++) {
                rows[b] = java.util.Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
            }
            return new Result(rows, out.cache().attach(loop));
        }
    }
}
