package dev.mergeval.safety;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.data.ResponseLoss;
import dev.mergeval.train.data.TrainingSequence;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safety gradient is the gradient of the training loss: it matches central finite
 * differences of that loss, computed independently of autograd, on the committed toy model.
 */
class SafetyGradientTest {

    private static Path aligned;

    @BeforeAll
    static void locate() {
        aligned = TestModels.projectRoot().resolve("models/toy/aligned");
    }

    /** Two refusals and a task answer the aligned model has not learned (its loss is far from 0). */
    private static Path records(Path dir) throws IOException {
        Path file = dir.resolve("safety.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Explain how to break into a computer.\"},"
                        + "{\"role\":\"assistant\",\"content\":\"I cannot help with that.\"}]}",
                "",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 plus 7?\"},"
                        + "{\"role\":\"assistant\",\"content\":\"19\"}], \"kind\": \"extra keys are ignored\"}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me how to rob a phone.\"},"
                        + "{\"role\":\"assistant\",\"content\":\"I cannot help with that.\"}]}",
                ""));
        return file;
    }

    @Test
    void matchesCentralFiniteDifferencesOfTheLoss(@TempDir Path tmp) throws IOException {
        Path data = records(tmp);
        List<String> names = List.of("model.layers.0.self_attn.q_proj.weight", "model.layers.2.mlp.down_proj.weight",
                "model.layers.4.self_attn.v_proj.weight", "model.embed_tokens.weight");
        Configuration conf = new Configuration();
        Map<String, float[]> grads = SafetyGradient.compute(aligned.toString(), data.toString(), names::contains, conf);
        assertEquals(names.size(), grads.size(), "one gradient per selected 2-D weight: " + grads.keySet());

        try (DjlLanguageModel lm = LanguageModels.loadDirectory(aligned.toString(), conf, RuntimeOptions.cpu())) {
            List<TrainingSequence> seqs = new ChatEncoder(lm::renderChat, lm.tokenizer(),
                    lm.forward().config().maxPositionEmbeddings()).encode(ChatJsonl.read(data.toString(), conf));
            assertEquals(3, seqs.size());
            for (String name : names) {
                NDArray w = lm.parameters().get(name);
                float[] values = w.toFloatArray();
                assertEquals(values.length, grads.get(name).length, name);
                // the three largest-magnitude entries (about 0.25 here), far above the float32 noise
                // of the difference; measured agreement 4e-4 relative, the bound is 5e-3
                for (int i : largest(grads.get(name), 3)) {
                    double h = 1e-2;
                    double up = lossWith(lm, seqs, w, values, i, h);
                    double down = lossWith(lm, seqs, w, values, i, -h);
                    double fd = (up - down) / (2 * h);
                    double g = grads.get(name)[i];
                    assertTrue(Math.abs(fd - g) <= 0.005 * Math.abs(g) + 1e-4,
                            name + "[" + i + "]: autograd " + g + ", finite difference " + fd);
                }
                w.set(values);
            }
        }
    }

    @Test
    void badInputNamesTheFileAndLine(@TempDir Path tmp) throws IOException {
        Configuration conf = new Configuration();
        String model = aligned.toString();
        BadInputException missing = assertThrows(BadInputException.class,
                () -> SafetyGradient.compute(model, tmp.resolve("nope.jsonl").toString(), n -> true, conf));
        assertTrue(missing.getMessage().contains("nope.jsonl: file not found"), missing.getMessage());

        Path noAssistant = tmp.resolve("no-assistant.jsonl");
        Files.writeString(noAssistant, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                + "{\"role\":\"assistant\",\"content\":\"b\"}]}\n{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n");
        BadInputException turn = assertThrows(BadInputException.class,
                () -> SafetyGradient.compute(model, noAssistant.toString(), n -> true, conf));
        assertTrue(turn.getMessage().contains("no-assistant.jsonl:2: no assistant turn"), turn.getMessage());

        Path empty = tmp.resolve("empty.jsonl");
        Files.writeString(empty, "\n\n");
        BadInputException none = assertThrows(BadInputException.class,
                () -> SafetyGradient.compute(model, empty.toString(), n -> true, conf));
        assertTrue(none.getMessage().contains("empty.jsonl: no records"), none.getMessage());

        Path broken = tmp.resolve("broken.jsonl");
        Files.writeString(broken, "{\"messages\": [}\n");
        BadInputException json = assertThrows(BadInputException.class,
                () -> SafetyGradient.compute(model, broken.toString(), n -> true, conf));
        assertTrue(json.getMessage().contains("broken.jsonl:1: not valid JSON"), json.getMessage());
    }

    /** The loss with element {@code i} of {@code w} moved by {@code h}, no autograd. */
    private static double lossWith(DjlLanguageModel lm, List<TrainingSequence> seqs, NDArray w, float[] values,
            int i, double h) {
        float[] moved = values.clone();
        moved[i] = (float) (values[i] + h);
        w.set(moved);
        try (NDManager scope = w.getManager().newSubManager()) {
            return ResponseLoss.of(scope, lm.forward(), lm.parameters(), seqs).mean().getFloat();
        }
    }

    private static List<Integer> largest(float[] g, int n) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < g.length; i++) {
            idx.add(i);
        }
        idx.sort(Comparator.comparingDouble(i -> -Math.abs(g[i])));
        return idx.subList(0, n);
    }
}
