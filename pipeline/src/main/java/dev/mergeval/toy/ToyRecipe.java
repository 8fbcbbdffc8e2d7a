package dev.mergeval.toy;

/**
 * How the embedded default pair is made: the data seed, the alignment run (all parameters, from
 * the pre-trained base), the fine-tuning run (the task mixed with general chat, projections only),
 * and the fixed CPU thread count (PyTorch's reductions depend on the thread count).
 */
public record ToyRecipe(long seed, TrainingConfig alignment, TrainingConfig fineTune, int threads) {

    /**
     * What the fine-tune trains: the attention and MLP projections, the matrices LoRA fine-tunes
     * adapt. The embedding (tied to the output layer here) and the norms stay as aligned.
     */
    static final String FINE_TUNED_PROJECTIONS = "model\\.layers\\.\\d+\\.(self_attn|mlp)\\..*";

    /** The recipe of the committed models; see docs/toy-models.md for how it was chosen. */
    public static ToyRecipe defaults(long seed) {
        return new ToyRecipe(seed,
                new TrainingConfig("alignment", 600, 32, 2e-3, 20, 0.0, 0.9, 0.95, 1.0, ".*", seed),
                new TrainingConfig("finetune", 300, 32, 1.4e-3, 20, 0.0, 0.9, 0.95, 1.0, FINE_TUNED_PROJECTIONS, seed + 1),
                1);
    }
}
