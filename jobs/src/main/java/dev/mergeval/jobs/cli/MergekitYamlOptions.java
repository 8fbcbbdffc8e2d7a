package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of {@code mergekit-yaml} that have no counterpart here, accepted so that a mergekit
 * command line runs as {@code mergeval merge}: each one given is named on the console with why it
 * changes nothing. {@code --no-safe-serialization} (pickled output) is refused. Left out of the
 * usage, which names them in its footer ({@link #FOOTER}).
 */
final class MergekitYamlOptions {

    static final String FOOTER = "%nmergekit-yaml's --cuda, --device, --low-cpu-memory, --read-to-gpu, --multi-gpu, --gpu-rich,"
            + " --lazy-unpickle, --trust-remote-code, --clone-tensors, --async-write, --write-threads,"
            + " --transformers-cache, --lora-merge-cache and --lora-merge-dtype are accepted and have no effect;"
            + " --no-safe-serialization is refused.";

    private static final String NO_ACCELERATOR = "tensors are merged on CPU threads or Spark executors, a unit's"
            + " worth of memory each";

    @Option(names = "--cuda", negatable = true, hidden = true)
    boolean cuda;

    @Option(names = "--device", paramLabel = "DEVICE", hidden = true)
    String device;

    @Option(names = "--low-cpu-memory", negatable = true, hidden = true)
    boolean lowCpuMemory;

    @Option(names = "--read-to-gpu", negatable = true, hidden = true)
    boolean readToGpu;

    @Option(names = "--multi-gpu", negatable = true, hidden = true)
    boolean multiGpu;

    @Option(names = "--gpu-rich", hidden = true)
    boolean gpuRich;

    @Option(names = "--lazy-unpickle", negatable = true, hidden = true)
    boolean lazyUnpickle;

    @Option(names = "--trust-remote-code", negatable = true, hidden = true)
    boolean trustRemoteCode;

    @Option(names = "--clone-tensors", negatable = true, hidden = true)
    boolean cloneTensors;

    @Option(names = "--async-write", negatable = true, hidden = true)
    boolean asyncWrite;

    @Option(names = "--transformers-cache", paramLabel = "DIR", hidden = true)
    String transformersCache;

    @Option(names = "--lora-merge-cache", paramLabel = "DIR", hidden = true)
    String loraMergeCache;

    @Option(names = "--lora-merge-dtype", paramLabel = "DTYPE", hidden = true)
    String loraMergeDtype;

    @Option(names = "--write-threads", paramLabel = "N", hidden = true)
    Integer writeThreads;

    @Option(names = "--safe-serialization", negatable = true, defaultValue = "true", fallbackValue = "true",
            hidden = true)
    boolean safeSerialization = true;

    /** Why each option given changes nothing; throws for {@code --no-safe-serialization}. */
    List<String> notes() {
        if (!safeSerialization) {
            throw new BadInputException("--no-safe-serialization: Mergeval writes safetensors only (a pickled"
                    + " checkpoint runs code when it is loaded)");
        }
        List<String> notes = new ArrayList<>();
        if (cuda || device != null || lowCpuMemory || readToGpu || multiGpu || gpuRich) {
            notes.add("--cuda, --device, --low-cpu-memory, --read-to-gpu, --multi-gpu and --gpu-rich have no effect: "
                    + NO_ACCELERATOR);
        }
        if (lazyUnpickle) {
            notes.add("--lazy-unpickle has no effect: Mergeval reads safetensors lazily and never unpickles");
        }
        if (trustRemoteCode) {
            notes.add("--trust-remote-code has no effect: no code from a model is run");
        }
        if (cloneTensors) {
            notes.add("--clone-tensors has no effect: every output tensor is written from its own bytes");
        }
        if (asyncWrite || writeThreads != null) {
            notes.add("--async-write and --write-threads have no effect: every thread writes its own units");
        }
        if (transformersCache != null) {
            notes.add("--transformers-cache has no effect: models are read where they are, nothing is downloaded");
        }
        if (loraMergeCache != null || loraMergeDtype != null) {
            notes.add("--lora-merge-cache and --lora-merge-dtype have no effect: an adapter is applied as each tensor"
                    + " is read (its delta in float32, as PEFT merges it), and nothing is cached");
        }
        return notes;
    }
}
