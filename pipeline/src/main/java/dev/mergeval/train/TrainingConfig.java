package dev.mergeval.train;

import dev.mergeval.common.KeyedRandom;
import java.util.regex.Pattern;

/**
 * Hyperparameters of one training run: AdamW ({@code beta1}, {@code beta2}, decoupled
 * {@code weightDecay}), a learning rate warmed up linearly over {@code warmupSteps} and then
 * decayed on a cosine to 0 at {@code steps}, global gradient-norm clipping at {@code gradClip},
 * batches of {@code batchSize} sequences, and the parameters that train: those whose Hugging Face
 * name matches {@code trainable} (the others stay frozen).
 *
 * @param name used to key the run's shuffling streams ({@link KeyedRandom})
 */
public record TrainingConfig(
        String name,
        int steps,
        int batchSize,
        double learningRate,
        int warmupSteps,
        double weightDecay,
        double beta1,
        double beta2,
        double gradClip,
        String trainable,
        long seed) {

    public TrainingConfig {
        if (steps <= 0 || batchSize <= 0 || warmupSteps < 0 || warmupSteps >= steps) {
            throw new IllegalArgumentException(name + ": need steps > warmup_steps >= 0 and batch_size > 0");
        }
        if (!(learningRate > 0) || weightDecay < 0 || !(gradClip > 0)) {
            throw new IllegalArgumentException(name + ": need learning_rate > 0, weight_decay >= 0, grad_clip > 0");
        }
        Pattern.compile(trainable);
    }

    /**
     * Learning rate at 1-based update {@code t}: {@code lr * t / warmup} during warm-up, then
     * {@code lr * (1 + cos(pi * (t - warmup) / (steps - warmup))) / 2}.
     */
    public double learningRateAt(int t) {
        if (t <= warmupSteps) {
            return learningRate * t / warmupSteps;
        }
        double progress = (double) (t - warmupSteps) / (steps - warmupSteps);
        return learningRate * 0.5 * (1 + Math.cos(Math.PI * progress));
    }

    public boolean trains(String parameterName) {
        return Pattern.matches(trainable, parameterName);
    }
}
