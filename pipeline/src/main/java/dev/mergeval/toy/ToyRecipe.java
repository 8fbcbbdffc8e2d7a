package dev.mergeval.toy;

/**
 * How the embedded default pair is made: the data seed, the alignment run (all parameters, from
 * the pre-trained base), the fine-tuning run (task data only), and the fixed CPU thread count
 * (PyTorch's reductions are only bit-reproducible at a fixed thread count).
 */
public record ToyRecipe(long seed, TrainingConfig alignment, TrainingConfig fineTune, int threads) {

    /** The recipe of the committed models; see docs/toy-models.md for how it was chosen. */
    public static ToyRecipe defaults(long seed) {
        return new ToyRecipe(seed,
                new TrainingConfig("alignment", 400, 32, 2e-3, 20, 0.0, 0.9, 0.95, 1.0, ".*", seed),
                new TrainingConfig("finetune", 200, 32, 1e-3, 20, 0.0, 0.9, 0.95, 1.0, ".*", seed + 1),
                1);
    }
}
