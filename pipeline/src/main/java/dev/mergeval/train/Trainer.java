package dev.mergeval.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.train.data.ResponseLoss;
import dev.mergeval.train.data.TrainingSequence;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Trains a Llama through {@link LlamaForward} with DJL autograd and DJL's AdamW: the one trainer
 * of {@code mergeval finetune} and {@code mergeval toy-models}.
 *
 * <p>Each step: the mean {@link ResponseLoss} of a batch, its gradient, global gradient-norm
 * clipping at {@link TrainingConfig#gradClip()}, one AdamW update of {@link Adaptation#optimized()}
 * at the warm-up/cosine learning rate of {@link TrainingConfig#learningRateAt}, and, with SPF on,
 * the conflict-gated projection of the update ({@link SpfProjector}).
 *
 * <p>Order: each epoch is a permutation of the data drawn from the stream
 * {@code KeyedRandom.named(seed, name + "/epoch-" + e)}; batches are consecutive slices of that
 * order, carried across epoch boundaries. So a run depends on the seed, the run's name and the
 * data, never on the order anything else was drawn in.
 *
 * <p>Only one {@link GradientCollector} may be open per JVM, so runs must not overlap.
 */
public final class Trainer {

    /** Steps between log lines. */
    private static final int LOG_EVERY = 50;

    private final LlamaForward forward;
    private final Consumer<String> log;
    private final Progress progress;

    public Trainer(LlamaForward forward, Consumer<String> log, Progress progress) {
        this.forward = forward;
        this.log = log;
        this.progress = progress;
    }

    /**
     * Runs {@code config.steps()} updates of {@code adaptation} on {@code data}, with SPF when
     * {@code spf} is not null. Parameters change in place.
     */
    public TrainingRun train(Adaptation adaptation, List<TrainingSequence> data, TrainingConfig config, SpfConfig spf) {
        if (data.size() < config.batchSize()) {
            throw new IllegalArgumentException(config.name() + ": " + data.size()
                    + " examples, fewer than one batch of " + config.batchSize());
        }
        Map<String, NDArray> trained = adaptation.optimized();
        if (trained.isEmpty()) {
            throw new IllegalArgumentException(config.name() + ": no parameter trains");
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
        trained.values().forEach(p -> p.setRequiresGradient(true));
        long t0 = System.nanoTime();
        progress.start(config.name(), config.steps());
        try (SpfProjector projector = spf == null ? null : new SpfProjector(spf, adaptation, forward, owner)) {
            for (int step = 0; step < config.steps(); step++) {
                boolean refresh = projector != null && spf.refreshesAt(step);
                if (refresh) {
                    projector.refresh(step);
                }
                try (NDManager scope = owner.newSubManager()) {
                    List<TrainingSequence> batch = new ArrayList<>(config.batchSize());
                    for (int i : order.next()) {
                        batch.add(data.get(i));
                    }
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = ResponseLoss.of(scope, forward, adaptation.forwardParams(scope), batch).mean();
                        collector.backward(loss);
                        double value = loss.getFloat();
                        if (!Double.isFinite(value)) {
                            // every later step and the written weights would be NaN too: nothing to publish
                            throw new BadInputException("step " + (step + 1) + ": the loss is " + value
                                    + ": training diverged (too high a learning rate?) or the model's weights are not"
                                    + " finite (mergeval inspect --verify names them); nothing written");
                        }
                        losses.add(value);
                    }
                    if (refresh) {
                        projector.recordTaskCer(batch, scope);
                    }
                    Map<String, NDArray> before = projector == null ? null : adaptation.snapshot(scope);
                    update(scope, adamW, trained, config.gradClip());
                    if (projector != null) {
                        projector.apply(before, scope);
                    }
                }
                progress.advance(1);
                progress.message(String.format("loss %.4f", losses.get(step)));
                if ((step + 1) % LOG_EVERY == 0) {
                    double mean = losses.subList(step + 1 - LOG_EVERY, step + 1).stream()
                            .mapToDouble(Double::doubleValue).average().orElseThrow();
                    log.accept(String.format("%s step %d/%d: mean loss %.4f", config.name(), step + 1, config.steps(), mean));
                }
            }
            return new TrainingRun(losses, (System.nanoTime() - t0) / 1e9, projector == null ? null : projector.report());
        } finally {
            progress.finish();
            trained.values().forEach(p -> p.setRequiresGradient(false));
        }
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
                SplittableRandom rng = KeyedRandom.named(config.seed(), config.name() + "/epoch-" + epoch++);
                KeyedRandom.shuffle(perm, rng);
                pending.addAll(perm);
            }
            List<Integer> batch = new ArrayList<>(pending.subList(0, config.batchSize()));
            pending.subList(0, config.batchSize()).clear();
            return batch;
        }
    }
}
