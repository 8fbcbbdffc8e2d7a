package dev.mergeval.train;

import java.util.List;

/**
 * What a training run measured.
 *
 * @param losses the mean response loss of each step's batch
 * @param seconds wall time of the steps (SPF work included)
 * @param spf what SPF did, or null when it was off
 */
public record TrainingRun(List<Double> losses, double seconds, SpfReport spf) {

    public TrainingRun {
        losses = List.copyOf(losses);
    }
}
