package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of {@code mergekit-yaml} that have no counterpart here, accepted so that a mergekit
 * command line runs as {@code mergeval merge}: each one given is named on the console with why it
 * changes nothing. {@code --no-safe-serialization} (pickled output) is refused.
 */
final class MergekitYamlOptions {

    private static final String NO_ACCELERATOR = "tensors are merged on CPU threads or Spark executors, a unit's"
            + " worth of memory each";

    @Option(names = "--cuda", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean cuda;

    @Option(names = "--device", paramLabel = "DEVICE", description = "accepted for mergekit-yaml; no effect")
    String device;

    @Option(names = "--low-cpu-memory", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean lowCpuMemory;

    @Option(names = "--read-to-gpu", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean readToGpu;

    @Option(names = "--multi-gpu", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean multiGpu;

    @Option(names = "--gpu-rich", description = "accepted for mergekit-yaml; no effect")
    boolean gpuRich;

    @Option(names = "--lazy-unpickle", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean lazyUnpickle;

    @Option(names = "--trust-remote-code", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean trustRemoteCode;

    @Option(names = "--clone-tensors", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean cloneTensors;

    @Option(names = "--async-write", negatable = true, description = "accepted for mergekit-yaml; no effect")
    boolean asyncWrite;

    @Option(names = "--safe-serialization", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "outputs are safetensors; --no-safe-serialization is refused")
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
        if (asyncWrite) {
            notes.add("--async-write has no effect: every thread writes its own units in place");
        }
        return notes;
    }
}
