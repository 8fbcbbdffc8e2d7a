package dev.mergeval.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.safety.SafetyGradient;
import dev.mergeval.safety.SafetySubspace;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.data.TrainingSequence;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPF's step rule, checked from outside: one training step from the aligned toy model, then,
 * with the subspaces recomputed independently at the starting weights, every matrix's applied
 * update either has no component {@code U U^T D V V^T} (it conflicted and was projected) or does
 * not raise the safety loss to first order ({@code <D, U S V^T> <= 0}, kept), and the projected
 * matrices are exactly those the run reports as in conflict.
 */
class SpfTest {

    private static final int RANK = 8;

    @BeforeAll
    static void locate() {
        FineTuneJobTest.locate();
    }

    @Test
    void fullTrainingAppliesConflictingUpdatesWithoutTheirSafetyComponent(@TempDir Path tmp) throws IOException {
        check(tmp, (params, seed) -> new FullAdaptation(params,
                n -> n.matches("model\\.layers\\.\\d+\\.(self_attn|mlp)\\..*")), (adaptation, params) -> null);
    }

    @Test
    void loraAppliesConflictingMatrixUpdatesWithoutTheirSafetyComponent(@TempDir Path tmp) throws IOException {
        check(tmp, (params, seed) -> new LoraAdaptation(params, new LoraConfig(8, 16, LoraConfig.LLAMA_PROJECTIONS), seed),
                (adaptation, params) -> adaptation);
    }

    /**
     * @param make the adaptation under test
     * @param lora the LoRA adaptation whose factors give the update (null: read the weights)
     */
    private static void check(Path tmp, BiFunction<Map<String, NDArray>, Long, Adaptation> make,
            BiFunction<Adaptation, Map<String, NDArray>, Adaptation> lora) throws IOException {
        Configuration conf = new Configuration();
        try (DjlLanguageModel lm = LanguageModels.loadDirectory(FineTuneJobTest.aligned(), conf, RuntimeOptions.cpu())) {
            ChatEncoder encoder = new ChatEncoder(lm::renderChat, lm.tokenizer(), lm.forward().config().maxPositionEmbeddings());
            List<TrainingSequence> task = encoder.encode(ChatJsonl.read(
                    FineTuneJobTest.slice(tmp, "finetune-train", 8).toString(), conf));
            List<TrainingSequence> safety = encoder.encode(ChatJsonl.read(FineTuneJobTest.spfSamples(tmp).toString(), conf));
            // trained copies in libtorch's memory, as FineTuneJob trains
            NDManager owner = lm.parameters().values().iterator().next().getManager().newSubManager();
            Map<String, NDArray> params = new LinkedHashMap<>();
            lm.parameters().forEach((name, p) -> params.put(name, Owned.by(owner, p.duplicate())));
            Adaptation adaptation = make.apply(params, 5L);
            List<String> matrices = adaptation.matrices();
            assertEquals(35, matrices.size());

            Map<String, SafetySubspace> subspaces = new LinkedHashMap<>();
            Map<String, float[]> start = new LinkedHashMap<>();
            Set<String> guarded = new HashSet<>(matrices);
            try (NDManager scope = params.values().iterator().next().getManager().newSubManager();
                    GradientCollector c = Engine.getInstance().newGradientCollector()) {
                SafetyGradient.Gradients g = SafetyGradient.of(scope, c, lm.forward(), params, safety, guarded::contains);
                for (String m : matrices) {
                    long[] shape = params.get(m).getShape().getShape();
                    subspaces.put(m, SafetySubspace.of(m, g.byTensor().get(m).toFloatArray(), (int) shape[0],
                            (int) shape[1], RANK));
                    start.put(m, params.get(m).toFloatArray());
                }
            }

            // one real step: the schedule's warm-up reaches 1e-3 at step 1 and the cosine is at 0 for step 2
            TrainingConfig config = new TrainingConfig("spf-test", 2, 8, 1e-3, 1, 0.0, 0.9, 0.95, 1.0, "unused", 0);
            TrainingRun run = new Trainer(lm.forward(), s -> { }, Progress.NONE)
                    .train(adaptation, task, config, new SpfConfig(safety, RANK, Double.NaN, 10));

            LoraAdaptation factors = (LoraAdaptation) lora.apply(adaptation, params);
            int projected = 0;
            for (String m : matrices) {
                SafetySubspace s = subspaces.get(m);
                float[] d = factors == null ? minus(params.get(m).toFloatArray(), start.get(m)) : loraUpdate(factors, m);
                double norm = norm(d);
                assertTrue(norm > 0, m + " did not move");
                double component = norm(s.component(d));
                // cosine of D with U S V^T; within rounding of 0 the run's float32 gate may go either way
                double cosine = s.inner(d) / (norm * norm(s.s()));
                if (component <= 1e-3 * norm) {
                    projected++;
                    assertTrue(Math.abs(cosine) <= 1e-4, m + ": projected, yet cos(D, USV^T) = " + cosine);
                } else {
                    assertTrue(cosine <= 1e-4, m + ": kept an update that raises the safety loss, cos(D, USV^T) = "
                            + cosine + ", component " + component / norm + " of the update");
                }
            }
            double share = run.spf().conflictShare().get(0);
            assertTrue(projected > 0, "no matrix conflicted");
            assertEquals(Math.round(share * matrices.size()), projected, "projected matrices vs the reported conflicts");
            assertTrue(run.spf().removedNormShare().get(0) > 0);
            assertEquals(0.0, run.spf().conflictShare().get(1), "a zero step conflicts with nothing");
            assertEquals(1, run.spf().refreshes().size());
        }
    }

    /** {@code (alpha / r) B A} of a LoRA module whose B started at zero: its whole matrix update. */
    private static float[] loraUpdate(LoraAdaptation lora, String matrix) {
        NDArray a = lora.factorsByPeftName().get(LoraAdaptation.aName(matrix));
        NDArray b = lora.factorsByPeftName().get(LoraAdaptation.bName(matrix));
        int rows = (int) b.getShape().get(0);
        int r = (int) b.getShape().get(1);
        int cols = (int) a.getShape().get(1);
        float[] av = a.toFloatArray();
        float[] bv = b.toFloatArray();
        float[] out = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double x = 0;
                for (int k = 0; k < r; k++) {
                    x += (double) bv[i * r + k] * av[k * cols + j];
                }
                out[i * cols + j] = (float) (lora.config().scale() * x);
            }
        }
        return out;
    }

    private static float[] minus(float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] - b[i];
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
