package dev.mergeval.jobs.cli;

import dev.mergeval.bench.RuntimeBenchmark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mergeval bench runtime}: tokens per second of the runtime's generation path against eager
 * PyTorch and this machine's matmul roofline ({@link RuntimeBenchmark}), one table row per model
 * and batch size, the models in the order given.
 */
@Command(name = "runtime", mixinStandardHelpOptions = true,
        description = "Tokens per second of the runtime (batch 1, 8, 32; prefill and decode) against eager PyTorch and the matmul roofline.")
final class BenchRuntimeCommand implements Callable<Integer> {

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1",
            description = "intra-op threads, of the runtime and of PyTorch (default ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--prompt-len", paramLabel = "P", defaultValue = "64",
            description = "prompt tokens (default ${DEFAULT-VALUE})")
    int promptLen;

    @Option(names = "--decode", paramLabel = "S", defaultValue = "64",
            description = "decoding steps (default ${DEFAULT-VALUE})")
    int decode;

    /** Repeating and exclusive, so that {@code --model} and {@code --generate-100m} keep their order. */
    @ArgGroup(exclusive = true, multiplicity = "0..*")
    List<Model> models = new ArrayList<>();

    /** One model to benchmark: a checkpoint, or a random ~110M-parameter Llama written first. */
    static final class Model {
        @Option(names = "--model", paramLabel = "DIR", required = true, description = "a Llama checkpoint (HF layout)")
        Path dir;

        @Option(names = "--generate-100m", paramLabel = "DIR", required = true,
                description = "write (once) a random ~110M-parameter Llama into DIR and benchmark it")
        Path generate;
    }

    @Override
    public Integer call() throws Exception {
        InputChecks.atLeast("--threads", threads, 1);
        InputChecks.atLeast("--prompt-len", promptLen, 1);
        InputChecks.atLeast("--decode", decode, 1);
        List<Path> dirs = new ArrayList<>();
        for (Model m : models) {
            dirs.add(m.dir != null ? m.dir : RuntimeBenchmark.generate100M(m.generate));
        }
        RuntimeBenchmark.run(threads, promptLen, decode, dirs);
        return MergevalCli.EXIT_OK;
    }
}
