package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.jobs.bench.EngineBenchmark;
import dev.mergeval.jobs.eval.EvalJob;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval bench engine}: a suite through the OpenAI engine (against a launched
 * {@code mergeval serve}) against the in-JVM engine: wall times and whether the records are identical.
 */
@Command(name = "engine", mixinStandardHelpOptions = true,
        description = "Benchmark an eval through the openai engine (a launched mergeval serve) against the in-JVM engine.")
final class BenchEngineCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model directory (or any source the server takes).")
    String model;

    @Option(names = "--suite", paramLabel = "SUITE.yaml", defaultValue = "conf/demo/suite.yaml",
            description = "Suite (default ${DEFAULT-VALUE}).")
    String suite;

    @Option(names = "--master", paramLabel = "URL", defaultValue = "local[2]", description = "Spark master (default ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "-1", description = "At most N items per task (default: all).")
    int limit;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "8",
            description = "Requests in flight per executor (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--launch", paramLabel = "COMMAND",
            description = "Server command with {model} and {port} (default: mergeval serve run by this JVM's java and class path).")
    String launch;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "2",
            description = "Items per task of an in-JVM warm-up run first, not reported (0: none; default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--work", paramLabel = "DIR", description = "Work directory (default: a new temporary one).")
    Path work;

    @Override
    public Integer call() throws IOException {
        if (limit == 0 || limit < -1 || concurrency < 1 || warmup < 0) {
            throw new BadInputException("--limit and --concurrency must be >= 1, --warmup >= 0");
        }
        Path cwd = Path.of("").toAbsolutePath();
        String source = InputChecks.models(java.util.List.of(InputChecks.modelSource(cwd, model))).get(0).text();
        String suitePath = InputChecks.path(suite);
        InputChecks.suite(suitePath);
        Path dir = work != null ? work : Files.createTempDirectory("mergeval-bench-engine");
        PrintWriter w = spec.commandLine().getOut();
        w.printf("suite %s on %s, model %s, %s; concurrency %d; work %s%n", suitePath, master, source,
                limit < 0 ? "all items" : "at most " + limit + " items per task", concurrency, dir);
        w.flush();
        EngineBenchmark.Result r = EngineBenchmark.run(new EngineBenchmark.Config(source, suitePath, master, limit,
                launch != null ? launch : EngineBenchmark.thisJvmServe(), concurrency, dir, warmup));
        w.printf("%-30s %8s %8s %10s%n", "engine", "records", "wall s", "records/s");
        row(w, "djl (in the JVM)", r.jvm());
        row(w, "openai (mergeval serve)", r.engine());
        w.printf("server start (launch to GET /v1/models): %.1f s, not in the wall time above%n", r.serverStartSeconds());
        w.printf("openai / djl wall time: %.2fx%n", r.engine().wallSeconds() / r.jvm().wallSeconds());
        w.printf("records identical (all fields but %s): %s (%d of %d differ)%n",
                String.join(", ", EngineBenchmark.ENGINE_FIELDS), r.differing() == 0 ? "yes" : "NO", r.differing(),
                r.records());
        r.differences().forEach(d -> w.println("  " + d));
        return r.differing() == 0 ? MergevalCli.EXIT_OK : MergevalCli.EXIT_INTERNAL;
    }

    private static void row(PrintWriter w, String name, EvalJob.Summary s) {
        w.printf("%-30s %8d %8.2f %10.2f%n", name, s.records(), s.wallSeconds(), s.records() / s.wallSeconds());
    }
}
