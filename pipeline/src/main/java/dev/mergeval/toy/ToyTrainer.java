package dev.mergeval.toy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.train.ResponseLoss;
import dev.mergeval.train.TrainingSequence;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Trains a Llama through {@link LlamaForward} with DJL autograd and DJL's AdamW.
 *
 * <p>Loss: mean token cross-entropy over the response tokens (EOS included) of a batch of
 * right-padded sequences; prompt and padding positions carry no loss. Padding sits after each
 * sequence, so causal attention keeps it out of every scored position.
 *
 * <p>Order: each epoch is a permutation of the data drawn from the stream
 * {@code KeyedRandom.of(seed, name + "/epoch-" + e)}; batches are consecutive slices of that
 * order, carried across epoch boundaries. The parameters are updated in place.
 *
 * <p>Only one {@link GradientCollector} may be open per JVM, so runs must not overlap.
 */
public final class ToyTrainer {

    /** Steps between progress lines. */
    private static final int LOG_EVERY = 50;

    private final LlamaForward forward;
    private final Consumer<String> log;

    public ToyTrainer(LlamaForward forward, Consumer<String> log) {
        this.forward = forward;
        this.log = log;
    }

    /**
     * Runs {@code config.steps()} updates on {@code params} (all F32, owned by one manager) and
     * returns the loss of each step.
     */
    public List<Double> train(Map<String, NDArray> params, List<TrainingSequence> data, TrainingConfig config) {
        if (data.size() < config.batchSize()) {
            throw new IllegalArgumentException(config.name() + ": " + data.size()
                    + " examples, fewer than one batch of " + config.batchSize());
        }
        Map<String, NDArray> trained = new TreeMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            boolean trains = config.trains(e.getKey());
            e.getValue().setRequiresGradient(trains);
            if (trains) {
                trained.put(e.getKey(), e.getValue());
            }
        }
        if (trained.isEmpty()) {
            throw new IllegalArgumentException(config.name() + ": no parameter matches '" + config.trainable() + "'");
        }
        Optimizer adamW = Optimizer.adamW()
                .optLearningRateTracker((Tracker) t -> (float) config.learningRateAt(t))
                .optBeta1((float) config.beta1())
                .optBeta2((float) config.beta2())
                .optEpsilon(1e-8f)
                .optWeightDecays((float) config.weightDecay())
                .build();
        NDManager owner = trained.values().iterator().next().getManager();
        BatchOrder order = new BatchOrder(data.size(), config);
        List<Double> losses = new ArrayList<>(config.steps());
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            for (int step = 0; step < config.steps(); step++) {
                try (NDManager scope = owner.newSubManager()) {
                    List<TrainingSequence> batch = new ArrayList<>(config.batchSize());
                    for (int i : order.next()) {
                        batch.add(data.get(i));
                    }
                    NDArray loss = loss(scope, params, batch);
                    collector.backward(loss);
                    losses.add((double) loss.getFloat());
                    update(scope, adamW, trained, config.gradClip());
                }
                if ((step + 1) % LOG_EVERY == 0) {
                    double mean = losses.subList(step + 1 - LOG_EVERY, step + 1).stream()
                            .mapToDouble(Double::doubleValue).average().orElseThrow();
                    log.accept(String.format("%s step %d/%d: mean loss %.4f", config.name(), step + 1, config.steps(), mean));
                }
            }
        } finally {
            for (NDArray p : params.values()) {
                p.setRequiresGradient(false);
            }
        }
        return losses;
    }

    /** Mean cross-entropy of the response tokens of {@code batch}. */
    NDArray loss(NDManager scope, Map<String, NDArray> params, List<TrainingSequence> batch) {
        return ResponseLoss.of(scope, forward, params, batch).mean();
    }

    /** Clips the global gradient norm to {@code clip}, applies AdamW, and zeroes the gradients. */
    private static void update(NDManager scope, Optimizer adamW, Map<String, NDArray> trained, double clip) {
        List<NDArray> grads = new ArrayList<>(trained.size());
        double squares = 0;
        for (NDArray p : trained.values()) {
            NDArray g = p.getGradient();
            g.attach(scope);
            grads.add(g);
            squares += g.square().sum().getFloat();
        }
        double norm = Math.sqrt(squares);
        float scale = norm > clip ? (float) (clip / norm) : 1f;
        int i = 0;
        for (Map.Entry<String, NDArray> e : trained.entrySet()) {
            NDArray g = grads.get(i++);
            adamW.update(e.getKey(), e.getValue(), scale == 1f ? g : g.mul(scale));
            g.subi(g);
        }
    }

    /** Consecutive batches over seeded per-epoch permutations. */
    private static final class BatchOrder {
        private final int size;
        private final TrainingConfig config;
        private final List<Integer> pending = new ArrayList<>();
        private int epoch;

        BatchOrder(int size, TrainingConfig config) {
            this.size = size;
            this.config = config;
        }

        List<Integer> next() {
            while (pending.size() < config.batchSize()) {
                List<Integer> perm = new ArrayList<>(size);
                for (int i = 0; i < size; i++) {
                    perm.add(i);
                }
                SplittableRandom rng = KeyedRandom.of(config.seed(), config.name() + "/epoch-" + epoch++);
                KeyedRandom.shuffle(perm, rng);
                pending.addAll(perm);
            }
            List<Integer> batch = new ArrayList<>(pending.subList(0, config.batchSize()));
            pending.subList(0, config.batchSize()).clear();
            return batch;
        }
    }
}
