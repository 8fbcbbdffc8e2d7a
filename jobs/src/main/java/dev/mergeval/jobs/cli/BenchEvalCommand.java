package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.jobs.bench.EvalBenchmark;
import dev.mergeval.jobs.eval.EvalJob;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval bench eval}: prompts per second of an AdvBench evaluation on several Spark
 * masters in the same run (default {@code local[1]} then {@code local[2]}), model loads, and the
 * share of core time spent loading models versus generating. A short warm-up run first pays the
 * one-off costs of the JVM and the PyTorch engine, so they do not land on the first master.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Benchmark an AdvBench evaluation on local[1] vs local[2] (or other masters) in one run.")
final class BenchEvalCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "SOURCE", description = "Model source.")
    String model;

    @Option(names = "--advbench", required = true, paramLabel = "CSV", description = "AdvBench harmful_behaviors.csv.")
    String advbench;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "64", description = "Prompts per run (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--slice-size", paramLabel = "N", defaultValue = "8", description = "Prompts per unit (default ${DEFAULT-VALUE}).")
    int sliceSize;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64",
            description = "Tokens generated per prompt (default ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--masters", split = ",", paramLabel = "URL", defaultValue = "local[1],local[2]",
            description = "Spark masters to compare, in order; speed-ups are relative to the first (default ${DEFAULT-VALUE}).")
    List<String> masters;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "8",
            description = "Prompts of a warm-up run on the first master, not reported (0: none; default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--work", paramLabel = "DIR", description = "Work directory for suites and outputs (default: a new temporary one).")
    Path work;

    @Override
    public Integer call() throws IOException {
        if (limit < 1 || sliceSize < 1 || maxNewTokens < 1 || warmup < 0) {
            throw new BadInputException("--limit, --slice-size and --max-new-tokens must be >= 1, --warmup >= 0");
        }
        Path dir = work != null ? work : Files.createTempDirectory("mergeval-bench-eval");
        EvalBenchmark.Config config = new EvalBenchmark.Config(model, advbench, limit, sliceSize, maxNewTokens, dir);
        PrintWriter w = spec.commandLine().getOut();
        w.printf("AdvBench evaluation of %s: %d prompts, %d per unit, %d new tokens, keyword judge; "
                + "OMP_NUM_THREADS=%s, %d cores; work %s%n", model, limit, sliceSize, maxNewTokens,
                System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"), Runtime.getRuntime().availableProcessors(), dir);
        w.flush();
        if (warmup > 0) {
            EvalBenchmark.Run r = EvalBenchmark.run(config, masters.get(0), "warmup", Math.min(warmup, limit));
            w.printf("warm-up on %s: %d prompts in %.1f s (not compared)%n", r.master(), r.summary().records(),
                    r.summary().wallSeconds());
            w.flush();
        }
        List<EvalBenchmark.Run> runs = new ArrayList<>();
        w.printf("%-22s %5s %7s %5s %8s %9s %5s %7s %10s %6s %9s %8s %7s %12s%n", "master", "cores", "prompts",
                "units", "wall s", "prompts/s", "loads", "load s", "generate s", "load%", "generate%", "speed-up",
                "cpu s", "prompts/cpu-s");
        for (int i = 0; i < masters.size(); i++) {
            EvalBenchmark.Run r = EvalBenchmark.run(config, masters.get(i), "run-" + i, limit);
            runs.add(r);
            EvalJob.Summary s = r.summary();
            w.printf("%-22s %5d %7d %5d %8.2f %9.3f %5d %7.2f %10.2f %5.1f%% %8.1f%% %7.2fx %7.2f %12.3f%n",
                    r.master(), r.cores(), s.records(), s.units(), s.wallSeconds(), r.promptsPerSecond(),
                    s.modelLoads(), s.loadSeconds(), s.generateSeconds(), 100 * r.loadShare(),
                    100 * r.generateShare(), r.promptsPerSecond() / runs.get(0).promptsPerSecond(),
                    r.cpuSeconds(), r.promptsPerCpuSecond());
            w.flush();
        }
        return MergevalCli.EXIT_OK;
    }
}
