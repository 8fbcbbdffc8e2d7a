package dev.mergeval.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.train.Adaptation;
import dev.mergeval.train.data.ChatEncoder;
import dev.mergeval.train.data.ChatJsonl;
import dev.mergeval.train.FullAdaptation;
import dev.mergeval.train.LoraAdaptation;
import dev.mergeval.train.LoraConfig;
import dev.mergeval.train.SpfConfig;
import dev.mergeval.train.Trainer;
import dev.mergeval.train.TrainingConfig;
import dev.mergeval.train.TrainingRun;
import dev.mergeval.train.data.TrainingSequence;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * SPF's cost: seconds per training step with SPF against without, same model, data, batches and
 * schedule. Runs alternate (plain, SPF, plain, SPF, ...) so that a change in machine load hits
 * both; each starts from the model's own weights; a short warm-up run first pays the one-off
 * costs of the engine and the JIT. The ratio is of the medians.
 */
public final class FineTuneBenchmark {

    /** What was measured: seconds per step of each run, by kind. */
    public record Result(List<Double> plainStepSeconds, List<Double> spfStepSeconds) {

        public double plainMedian() {
            return median(plainStepSeconds);
        }

        public double spfMedian() {
            return median(spfStepSeconds);
        }

        /** {@code SPF step time / plain step time}, of the medians. */
        public double ratio() {
            return spfMedian() / plainMedian();
        }
    }

    /**
     * @param full train the target projections themselves (the toy fine-tune's setting), else LoRA r 8
     * @param rank SPF's subspace rank
     * @param refresh SPF's refresh interval, in steps
     */
    public static Result run(String model, String data, String safetyData, boolean full, int steps, int batchSize,
            int rank, int refresh, int repeats, Configuration conf) {
        if (steps < 2 || batchSize < 1 || repeats < 1 || rank < 1 || refresh < 0) {
            throw new BadInputException("need --steps >= 2, --batch-size >= 1, --repeats >= 1, --spf-rank >= 1,"
                    + " --spf-refresh >= 0");
        }
        try (DjlLanguageModel lm = LanguageModels.loadDirectory(model, conf, RuntimeOptions.cpu())) {
            ChatEncoder encoder = new ChatEncoder(lm::renderChat, lm.tokenizer(), lm.forward().config().maxPositionEmbeddings());
            List<TrainingSequence> sequences = encoder.encode(ChatJsonl.read(data, conf));
            if (sequences.size() < batchSize) {
                throw new BadInputException("--batch-size " + batchSize + " exceeds the " + sequences.size()
                        + " assistant turns of " + data);
            }
            SpfConfig spf = new SpfConfig(encoder.encode(ChatJsonl.read(safetyData, conf)), rank, Double.NaN, refresh);
            // the toy fine-tune's learning rate with --full; LoRA's is higher to move its factors as far
            double lr = full ? 1.4e-3 : 1e-3;
            String targets = LoraConfig.weightPattern(LoraConfig.LLAMA_PROJECTIONS);
            TrainingConfig config = new TrainingConfig("bench-finetune", steps, batchSize, lr, steps / 10, 0.0, 0.9,
                    0.95, 1.0, targets, 0);
            TrainingConfig warmUp = new TrainingConfig("bench-finetune", 2, batchSize, lr, 1, 0.0, 0.9, 0.95, 1.0,
                    targets, 0);
            time(lm, sequences, warmUp, full, spf);
            List<Double> plain = new ArrayList<>();
            List<Double> withSpf = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                plain.add(time(lm, sequences, config, full, null));
                withSpf.add(time(lm, sequences, config, full, spf));
            }
            return new Result(plain, withSpf);
        }
    }

    /** Seconds per step of one run from a fresh copy of the model's weights. */
    private static double time(DjlLanguageModel lm, List<TrainingSequence> sequences, TrainingConfig config,
            boolean full, SpfConfig spf) {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            lm.parameters().forEach((name, p) -> {
                NDArray copy = p.duplicate();
                copy.attach(manager);
                params.put(name, copy);
            });
            Adaptation adaptation = full ? new FullAdaptation(params, config::trains)
                    : new LoraAdaptation(params, new LoraConfig(8, 16, LoraConfig.LLAMA_PROJECTIONS), 0);
            TrainingRun run = new Trainer(lm.forward(), s -> { }, Progress.NONE).train(adaptation, sequences, config, spf);
            return run.seconds() / config.steps();
        }
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private FineTuneBenchmark() {
    }
}
