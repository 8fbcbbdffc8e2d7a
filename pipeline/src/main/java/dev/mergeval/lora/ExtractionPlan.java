package dev.mergeval.lora;

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
 * @param tasks      one per tensor present in both models
 */
public record ExtractionPlan(String model, String baseModel, int maxRank, Svd svd, int exactLimit, long seed,
        List<DeltaTask> tasks) implements Serializable {

    private static final long serialVersionUID = 1L;

    public ExtractionPlan {
        tasks = List.copyOf(tasks);
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
     * One tensor of both models.
     *
     * @param lora      whether it is decomposed into LoRA factors (a 2-D {@code <module>.weight}); else it
     *                  is compared and, if it differs, kept whole
     * @param embedding whether its factors are PEFT's embedding LoRA ({@code lora_embedding_A [r, vocab]},
     *                  {@code lora_embedding_B [dim, r]}) rather than a linear module's
     */
    public record DeltaTask(String tensor, boolean lora, boolean embedding, long[] shape) implements Serializable {
        private static final long serialVersionUID = 1L;
    }
}
