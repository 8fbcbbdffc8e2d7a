package dev.mergeval.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.safety.SafetyGradient;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.data.TrainingSequence;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradients do not depend on the garbage collector. The backward pass of a product or quotient
 * reads its operand again; an operand whose data sat in a Java buffer that nothing referenced any
 * more (DJL's {@code x.mul(Number)}) was freed by a collection between the forward and backward
 * passes, and the query/key gradients came out zero or NaN (every run with a collector running
 * beside it, about one in twenty without).
 */
class GradientUnderCollectionTest {

    private static final String KEY = "model.layers.0.self_attn.k_proj.weight";
    private static final String QUERY = "model.layers.1.self_attn.q_proj.weight";

    @BeforeAll
    static void locate() {
        FineTuneJobTest.locate();
    }

    @Test
    void safetyGradientIsTheSameWhileTheCollectorRuns(@TempDir Path tmp) throws IOException {
        Configuration conf = new Configuration();
        try (DjlLanguageModel lm = LanguageModels.loadDirectory(FineTuneJobTest.aligned(), conf, RuntimeOptions.cpu())) {
            List<TrainingSequence> safety = new ChatEncoder(lm::renderChat, lm.tokenizer(),
                    lm.forward().config().maxPositionEmbeddings())
                    .encode(ChatJsonl.read(FineTuneJobTest.spfSamples(tmp).toString(), conf));
            NDManager owner = lm.parameters().values().iterator().next().getManager().newSubManager();
            Map<String, NDArray> params = new LinkedHashMap<>();
            lm.parameters().forEach((name, p) -> params.put(name, Owned.by(owner, p.duplicate())));
            Map<String, float[]> quiet = gradients(lm, params, safety);
            assertTrue(norm(quiet.get(KEY)) > 0, "the key projection has a safety gradient");

            AtomicBoolean running = new AtomicBoolean(true);
            Thread collector = new Thread(() -> {
                while (running.get()) {
                    System.gc();
                }
            });
            collector.setDaemon(true);
            collector.start();
            try {
                for (int i = 0; i < 5; i++) {
                    Map<String, float[]> busy = gradients(lm, params, safety);
                    for (String m : quiet.keySet()) {
                        assertArrayEquals(quiet.get(m), busy.get(m), m + ", pass " + i);
                    }
                }
            } finally {
                running.set(false);
            }
        }
    }

    private static Map<String, float[]> gradients(DjlLanguageModel lm, Map<String, NDArray> params,
            List<TrainingSequence> sequences) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager scope = params.values().iterator().next().getManager().newSubManager();
                GradientCollector c = Engine.getInstance().newGradientCollector()) {
            SafetyGradient.of(scope, c, lm.forward(), params, sequences, n -> n.equals(KEY) || n.equals(QUERY))
                    .byTensor().forEach((name, g) -> out.put(name, g.toFloatArray()));
        }
        return out;
    }

    private static double norm(float[] x) {
        double s = 0;
        for (float v : x) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }
}
