package dev.mergeval.lora;

import dev.mergeval.checkpoint.ShardFile;
import java.io.Serializable;
import java.util.List;

/**
 * What every per-tensor task of an extraction needs, as a value (broadcast to executors, which read
 * no options): the two model sources, the rank, the SVD choice and the tensors in output order.
 *
 * @param model      the fine-tuned model source (a directory, URI or {@code BASE+ADAPTER})
 * @param baseModel  the base model source
 * @param maxRank    the largest rank kept per matrix
 * @param svd        which SVD decomposes a matrix
 * @param exactLimit with {@link Svd#AUTO}, the largest {@code min(rows, cols)} decomposed exactly
 * @param seed       seed of the randomized SVD's sketch (its stream is named after the tensor)
 * @param factors    how the kept singular values become factors
 * @param tasks      one per tensor present in both models and not excluded
 * @param inputFiles both models' files as they were planned, checked again before publishing
 */
public record ExtractionPlan(String model, String baseModel, int maxRank, Svd svd, int exactLimit, long seed,
        Factors factors, List<DeltaTask> tasks, List<ShardFile> inputFiles) implements Serializable {

    private static final long serialVersionUID = 1L;

    public ExtractionPlan {
        tasks = List.copyOf(tasks);
        inputFiles = List.copyOf(inputFiles);
    }

    /** Which SVD decomposes a matrix. */
    public enum Svd {
        /** Exact up to {@code exactLimit}, randomized above. */
        AUTO,
        /** EJML's exact SVD in double precision for every matrix. */
        EXACT,
        /** Halko-Martinsson-Tropp for every matrix. */
        RANDOMIZED;

        public String json() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * How a truncated SVD {@code U_k S_k V_k^T} becomes {@code B @ A}.
     *
     * @param svEpsilon       singular values at or below it are dropped too (mergekit's {@code --sv-epsilon};
     *                        0 keeps all above the rounding noise)
     * @param distributeScale {@code A = sqrt(S_k) V_k^T, B = U_k sqrt(S_k)} (mergekit's default), else
     *                        {@code A = S_k V_k^T, B = U_k}
     */
    public record Factors(double svEpsilon, boolean distributeScale) implements Serializable {
        private static final long serialVersionUID = 1L;

        /** mergekit's defaults: no epsilon, the scale split between A and B. */
        public static final Factors DEFAULT = new Factors(0, true);
    }

    /**
     * One tensor of both models.
     *
     * @param lora      whether it is decomposed into LoRA factors (a 2-D {@code <module>.weight}); else it
     *                  is compared and, if it differs, kept whole
     * @param embedding whether its factors are PEFT's embedding LoRA ({@code lora_embedding_A [r, vocab]},
     *                  {@code lora_embedding_B [dim, r]}) rather than a linear module's
     * @param conv1d    a GPT-2 style {@code Conv1D} weight, stored {@code [in, out]}: its factors are
     *                  those of {@code D^T} ({@code lora_A [r, in]}, {@code lora_B [out, r]}), which PEFT
     *                  applies with {@code fan_in_fan_out}
     * @param save      a module named by {@code --save-module}: saved whole if it differs, whatever
     *                  {@code --other} says
     * @param resized   an embedding or output head with other rows in the fine-tune than in the base
     *                  (added tokens; {@code shape} is the fine-tune's): saved whole, compared over the rows
     *                  both have
     */
    public record DeltaTask(String tensor, boolean lora, boolean embedding, boolean conv1d, boolean save,
            boolean resized, long[] shape)
            implements Serializable {
        private static final long serialVersionUID = 1L;
    }
}
