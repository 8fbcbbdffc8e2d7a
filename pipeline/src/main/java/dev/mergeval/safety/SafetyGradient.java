package dev.mergeval.safety;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.TorchMemory;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.data.ResponseLoss;
import dev.mergeval.train.data.TrainingSequence;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.hadoop.conf.Configuration;

/**
 * The safety gradient: {@code G = dL/dW} per weight matrix, where {@code L} is the mean negative
 * log-likelihood of the assistant tokens (EOS included) of chat-format records, exactly the
 * training loss of {@code mergeval finetune} ({@link ResponseLoss}, records encoded by
 * {@link ChatEncoder} with the model's chat template and tokenizer). The mean is over all tokens
 * of all records (not per record), so it is the gradient of one batch holding every record;
 * records are run in chunks of {@link #CHUNK} sequences with the gradients summed, which changes
 * only the rounding.
 *
 * <p>Computed in float32, on the CPU for {@link #compute(String, String, Predicate, Configuration)}.
 */
public final class SafetyGradient {

    /** Sequences per forward/backward pass: bounds the activation memory, whatever the record count. */
    public static final int CHUNK = 16;

    private SafetyGradient() {
    }

    /** The gradients and the loss they are the gradient of. */
    public record Gradients(double loss, int tokens, Map<String, NDArray> byTensor) {
    }

    /**
     * Loads {@code modelLocation} (a model directory or {@code BASE+ADAPTER}, any Hadoop path) and
     * returns the safety gradient of the records in {@code safetyDataLocation} for each 2-D
     * parameter that {@code tensors} accepts: tensor name -> row-major float32 in the tensor's shape.
     *
     * @throws BadInputException for a missing or malformed data file (naming {@code file:line}), a
     *     record without an assistant turn, a model without a chat template, or a bad model
     */
    public static Map<String, float[]> compute(String modelLocation, String safetyDataLocation,
            Predicate<String> tensors, Configuration conf) {
        var records = ChatJsonl.read(safetyDataLocation, conf);
        try (DjlLanguageModel lm = LanguageModels.loadDirectory(modelLocation, conf, RuntimeOptions.cpu())) {
            if (!lm.hasChatTemplate()) {
                throw new BadInputException(modelLocation + ": the model has no chat_template in "
                        + "tokenizer_config.json, needed to render " + safetyDataLocation);
            }
            List<TrainingSequence> sequences = new ChatEncoder(lm::renderChat, lm.tokenizer(),
                    lm.forward().config().maxPositionEmbeddings()).encode(records);
            Map<String, float[]> out = new LinkedHashMap<>();
            try (NDManager scope = lm.parameters().values().iterator().next().getManager().newSubManager();
                    GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                Gradients g = of(scope, collector, lm.forward(), lm.parameters(), sequences, tensors);
                g.byTensor().forEach((name, grad) -> out.put(name, grad.toFloatArray()));
            }
            if (out.isEmpty()) {
                throw new BadInputException(modelLocation + ": no 2-D weight is selected for the safety gradient");
            }
            return out;
        }
    }

    /**
     * The safety gradient at already-loaded weights, inside a running {@code collector} (the
     * training loop's: only one may be open per JVM). Works on detached views of {@code params},
     * so neither the parameters nor their own gradients change. The returned arrays belong to
     * {@code scope}.
     *
     * @param params float32 parameters by Hugging Face name (for LoRA: the effective weights)
     */
    public static Gradients of(NDManager scope, GradientCollector collector, LlamaForward forward,
            Map<String, NDArray> params, List<TrainingSequence> sequences, Predicate<String> tensors) {
        if (sequences.isEmpty()) {
            throw new IllegalArgumentException("no sequences to take the gradient of");
        }
        Map<String, NDArray> view = new LinkedHashMap<>();
        Map<String, NDArray> leaves = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray detached = e.getValue().stopGradient();
            detached.attach(scope);
            if (detached.getShape().dimension() == 2 && tensors.test(e.getKey())) {
                detached.setRequiresGradient(true);
                leaves.put(e.getKey(), detached);
            }
            view.put(e.getKey(), detached);
        }
        int total = sequences.stream().mapToInt(s -> s.response().length).sum();
        double loss = 0;
        for (int from = 0; from < sequences.size(); from += CHUNK) {
            List<TrainingSequence> chunk = sequences.subList(from, Math.min(sequences.size(), from + CHUNK));
            try (NDManager pass = scope.newSubManager()) {
                NDArray part = ResponseLoss.of(pass, forward, view, chunk).sum().div(TorchMemory.scalar(pass, total));
                collector.backward(part);
                loss += part.getFloat();
            }
        }
        Map<String, NDArray> grads = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : leaves.entrySet()) {
            NDArray g = e.getValue().getGradient();
            g.attach(scope);
            grads.put(e.getKey(), g);
        }
        return new Gradients(loss, total, grads);
    }
}
