package dev.mergeval.jobs.cli;

import dev.mergeval.bench.ServeBenchmark;
import dev.mergeval.source.ModelSource;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mergeval bench serve}: tokens per second of {@code mergeval serve} at 1, 8 and 32
 * concurrent clients against the runtime's own batch generation of the same prompts
 * ({@link ServeBenchmark}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Tokens per second of mergeval serve (1, 8, 32 clients) against the runtime's batch generation.")
final class BenchServeCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "SOURCE", description = "model source (default: the demo's models/toy/aligned)")
    String model;

    @Option(names = "--clients", split = ",", paramLabel = "C", description = "concurrent clients (default 1,8,32)")
    List<Integer> clients = List.of(1, 8, 32);

    @Option(names = "--prompts", paramLabel = "N", defaultValue = "256",
            description = "prompts per run (default ${DEFAULT-VALUE}: 8 rounds of 32 clients, so that start-up is a small part)")
    int prompts;

    @Option(names = "--max-tokens", paramLabel = "M", defaultValue = "64", description = "max tokens per answer (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--max-batch", paramLabel = "B", defaultValue = "32", description = "batch size of both sides (default ${DEFAULT-VALUE})")
    int maxBatch;

    @Option(names = "--threads", paramLabel = "T", defaultValue = "1", description = "PyTorch threads (default ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--repeats", paramLabel = "R", defaultValue = "2", description = "runs per figure, best kept (default ${DEFAULT-VALUE})")
    int repeats;

    @Override
    public Integer call() throws Exception {
        InputChecks.atLeast("--prompts", prompts, 1);
        InputChecks.atLeast("--max-tokens", maxTokens, 1);
        InputChecks.atLeast("--max-batch", maxBatch, 1);
        InputChecks.atLeast("--threads", threads, 0);
        InputChecks.atLeast("--repeats", repeats, 1);
        for (int c : clients) {
            InputChecks.atLeast("--clients", c, 1);
        }
        String text = model != null ? InputChecks.modelSource(Path.of("").toAbsolutePath(), model)
                : DemoCommand.findRoot().resolve("models/toy/aligned").toString();
        ModelSource source = InputChecks.models(List.of(text)).get(0);
        ServeBenchmark.run(source, clients, prompts, maxTokens, maxBatch, threads, repeats);
        return MergevalCli.EXIT_OK;
    }
}
