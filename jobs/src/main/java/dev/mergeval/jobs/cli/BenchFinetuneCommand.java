package dev.mergeval.jobs.cli;

import dev.mergeval.bench.FineTuneBenchmark;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mergeval bench finetune}: SPF step time over plain step time ({@link FineTuneBenchmark}). */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = "Seconds per fine-tuning step with SPF against without; prints SPF step time / plain step time.")
final class BenchFinetuneCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "SOURCE", description = "Model (default: the demo's models/toy/aligned).")
    String model;

    @Option(names = "--data", paramLabel = "TRAIN.jsonl", description = "Training data (default: data/toy/finetune-train.jsonl).")
    String data;

    @Option(names = "--spf-safety-data", paramLabel = "FILE",
            description = "SPF's safety records (default: data/toy/spf-safety.jsonl).")
    String safetyData;

    @Option(names = "--full", description = "Train the projections themselves (the toy fine-tune's setting) instead of LoRA r 8.")
    boolean full;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "60", description = "Steps per run (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "32", description = "Default ${DEFAULT-VALUE}.")
    int batchSize;

    @Option(names = "--spf-rank", paramLabel = "K", defaultValue = "8", description = "Default ${DEFAULT-VALUE}.")
    int rank;

    @Option(names = "--spf-refresh", paramLabel = "STEPS", defaultValue = "10", description = "Default ${DEFAULT-VALUE}.")
    int refresh;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "3",
            description = "Plain/SPF run pairs, alternated; the medians are compared (default ${DEFAULT-VALUE}).")
    int repeats;

    @Override
    public Integer call() {
        Path root = model == null || data == null || safetyData == null ? DemoCommand.findRoot() : null;
        String m = model != null ? InputChecks.modelSource(Path.of("").toAbsolutePath(), model)
                : root.resolve("models/toy/aligned").toString();
        String d = data != null ? InputChecks.path(data) : root.resolve("data/toy/finetune-train.jsonl").toString();
        String s = safetyData != null ? InputChecks.path(safetyData) : root.resolve("data/toy/spf-safety.jsonl").toString();
        FineTuneBenchmark.Result r = FineTuneBenchmark.run(m, d, s, full, steps, batchSize, rank, refresh, repeats,
                new Configuration());
        System.out.printf("%s, %d steps of %d, SPF rank %d refresh %d, %d run pairs%n", full ? "full" : "LoRA r 8",
                steps, batchSize, rank, refresh, repeats);
        System.out.printf("plain step: %.1f ms (runs %s)%n", 1000 * r.plainMedian(), millis(r.plainStepSeconds()));
        System.out.printf("SPF step:   %.1f ms (runs %s)%n", 1000 * r.spfMedian(), millis(r.spfStepSeconds()));
        System.out.printf("SPF step time / plain step time: %.2f%n", r.ratio());
        return MergevalCli.EXIT_OK;
    }

    private static String millis(java.util.List<Double> seconds) {
        return seconds.stream().map(x -> String.format("%.1f", 1000 * x)).toList().toString();
    }
}
