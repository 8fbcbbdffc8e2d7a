package dev.mergeval.toy;

import dev.mergeval.train.TrainingConfig;

/**
 * How the embedded default models are made: the data seed, the alignment run (all parameters,
 * from the pre-trained base), the fine-tuning run (the task mixed with general chat, projections
 * only), the SPF fine-tune's settings (the same run with SPF on), and the fixed CPU thread count
 * (PyTorch's reductions depend on the thread count).
 */
public record ToyRecipe(long seed, TrainingConfig alignment, TrainingConfig fineTune, Spf spf, int threads) {

    /**
     * SPF for {@code models/toy/finetuned-spf}: the first {@code samples} harmful requests of the
     * alignment training data with their refusal (never a held-out one), subspace rank
     * {@code rank}, re-estimated every {@code refresh} steps.
     */
    public record Spf(int samples, int rank, int refresh) {
    }

    /**
     * What the fine-tune trains: the attention and MLP projections, the matrices LoRA fine-tunes
     * adapt. The embedding (tied to the output layer here) and the norms stay as aligned.
     */
    static final String FINE_TUNED_PROJECTIONS = "model\\.layers\\.\\d+\\.(self_attn|mlp)\\..*";

    /** The data seed of the committed models (their fine-tunes train with {@code SEED + 1}). */
    public static final long SEED = 0L;

    /** The recipe of the committed models; see docs/toy-models.md for how it was chosen. */
    public static ToyRecipe defaults(long seed) {
        return new ToyRecipe(seed,
                new TrainingConfig("alignment", 600, 32, 2e-3, 20, 0.0, 0.9, 0.95, 1.0, ".*", seed),
                new TrainingConfig("finetune", 300, 32, 1.4e-3, 20, 0.0, 0.9, 0.95, 1.0, FINE_TUNED_PROJECTIONS, seed + 1),
                new Spf(8, 8, 10),
                1);
    }

    /** This recipe with the fine-tunes' training seed replaced (the data and the alignment unchanged). */
    public ToyRecipe withFineTuneSeed(long fineTuneSeed) {
        TrainingConfig f = fineTune;
        return new ToyRecipe(seed, alignment, new TrainingConfig(f.name(), f.steps(), f.batchSize(), f.learningRate(),
                f.warmupSteps(), f.weightDecay(), f.beta1(), f.beta2(), f.gradClip(), f.trainable(), fineTuneSeed),
                spf, threads);
    }
}
