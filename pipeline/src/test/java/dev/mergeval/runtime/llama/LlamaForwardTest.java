package dev.mergeval.runtime.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.runtime.TestModels.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link LlamaForward} on the real stories260K weights against the plain-Java oracle. */
class LlamaForwardTest {

    private static NDManager manager;
    private static LlamaConfig config;
    private static Map<String, Tensor> tensors;
    private static Map<String, NDArray> params;
    private static LlamaForward forward;

    @BeforeAll
    static void load() throws Exception {
        Path dir = TestModels.stories260K();
        config = LlamaConfig.parse(Files.readString(dir.resolve("config.json")), "config.json");
        tensors = TestModels.readAll(dir);
        manager = NDManager.newBaseManager();
        params = new HashMap<>();
        tensors.forEach((name, t) -> params.put(name, manager.create(t.data(), new Shape(t.shape()))));
        forward = new LlamaForward(config);
    }

    @AfterAll
    static void close() {
        if (manager != null) {
            manager.close();
        }
    }

    private static int[] randomTokens(long seed, int length) {
        Random r = new Random(seed);
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) {
            ids[i] = r.nextInt(config.vocabSize());
        }
        ids[0] = 1;
        return ids;
    }

    private static float[][] djlLogits(NDManager m, int[] tokens) {
        NDArray logits = forward.logits(params, m.create(tokens).reshape(1, tokens.length));
        float[] flat = logits.toFloatArray();
        float[][] out = new float[tokens.length][];
        for (int p = 0; p < tokens.length; p++) {
            out[p] = java.util.Arrays.copyOfRange(flat, p * config.vocabSize(), (p + 1) * config.vocabSize());
        }
        return out;
    }

    private static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(worst <= tol, what + ": max |diff| " + worst + " > " + tol);
    }

    @Test
    void logitsMatchPlainJavaReference() {
        ReferenceLlama reference = new ReferenceLlama(config, tensors);
        try (NDManager m = manager.newSubManager()) {
            for (int len : new int[] {1, 6, 33}) {
                int[] tokens = randomTokens(len, len);
                float[][] expected = reference.logits(tokens);
                float[][] actual = djlLogits(m, tokens);
                for (int p = 0; p < len; p++) {
                    assertClose(expected[p], actual[p], 1e-4, "length " + len + " position " + p);
                }
            }
        }
    }

    @Test
    void cachedDecodingEqualsFullForward() {
        int[] tokens = randomTokens(7, 12);
        try (NDManager m = manager.newSubManager()) {
            float[][] full = djlLogits(m, tokens);
            int prefill = 5;
            int[] head = java.util.Arrays.copyOf(tokens, prefill);
            LlamaForward.Output out = forward.forward(params, m.create(head).reshape(1, prefill), null, null, false);
            assertClose(full[prefill - 1], out.logits().toFloatArray(), 1e-4, "prefill last position");
            for (int p = prefill; p < tokens.length; p++) {
                out = forward.forward(params, m.create(new int[] {tokens[p]}).reshape(1, 1), null, out.cache(), false);
                assertEquals(p + 1, out.cache().length());
                assertClose(full[p], out.logits().toFloatArray(), 1e-4, "decode position " + p);
            }
        }
    }

    @Test
    void leftPaddedBatchMatchesEachSequenceAlone() {
        int[] a = randomTokens(11, 9);
        int[] b = randomTokens(12, 4);
        try (NDManager m = manager.newSubManager()) {
            float[][] aloneA = djlLogits(m, a);
            float[][] aloneB = djlLogits(m, b);
            int pad = a.length - b.length;
            long[] ids = new long[2 * a.length];
            long[] mask = new long[2 * a.length];
            for (int i = 0; i < a.length; i++) {
                ids[i] = a[i];
                mask[i] = 1;
                ids[a.length + i] = i < pad ? 0 : b[i - pad];
                mask[a.length + i] = i < pad ? 0 : 1;
            }
            NDArray maskArr = m.create(mask).reshape(2, a.length);
            LlamaForward.Output out = forward.forward(params, m.create(ids).reshape(2, a.length), maskArr, null, true);
            int v = config.vocabSize();
            for (int p = 0; p < a.length; p++) {
                assertClose(aloneA[p], out.logits().get(new NDIndex("0, {}", p)).toFloatArray(), 1e-4, "row 0 pos " + p);
            }
            for (int p = pad; p < a.length; p++) {
                assertClose(aloneB[p - pad], out.logits().get(new NDIndex("1, {}", p)).toFloatArray(), 1e-4,
                        "row 1 pos " + p);
            }
            // one more cached step for both rows: still equal to the unpadded computation
            int[] next = {5, 6};
            NDArray stepMask = maskArr.concat(m.ones(new Shape(2, 1), DataType.INT64), 1);
            LlamaForward.Output step = forward.forward(
                    params, m.create(new long[] {next[0], next[1]}).reshape(2, 1), stepMask, out.cache(), false);
            int[] bNext = java.util.Arrays.copyOf(b, b.length + 1);
            bNext[b.length] = next[1];
            assertClose(djlLogits(m, bNext)[b.length], step.logits().get(new NDIndex("1, 0")).toFloatArray(), 1e-4,
                    "row 1 cached step");
            assertEquals(v, step.logits().getShape().get(2));
        }
    }

    @Test
    void gradientsFlowToEveryParameterKind() {
        int[] tokens = randomTokens(3, 10);
        Map<String, NDArray> trainable = new HashMap<>();
        try (NDManager m = manager.newSubManager()) {
            params.forEach((name, p) -> {
                NDArray copy = p.duplicate();
                copy.attach(m);
                copy.setRequiresGradient(true);
                trainable.put(name, copy);
            });
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray ids = m.create(tokens).reshape(1, tokens.length);
                NDArray logProbs = forward.logits(trainable, ids).logSoftmax(-1);
                NDArray loss = logProbs.get(new NDIndex(":, :, 7")).mean().neg();
                gc.backward(loss);
            }
            for (String name : new String[] {
                    LlamaLayout.EMBED, LlamaLayout.layer(0, "self_attn.q_proj.weight"),
                    LlamaLayout.layer(4, "mlp.down_proj.weight"), LlamaLayout.FINAL_NORM}) {
                float absSum = trainable.get(name).getGradient().abs().sum().getFloat();
                assertTrue(absSum > 0, "no gradient reached " + name);
            }
        }
    }
}
