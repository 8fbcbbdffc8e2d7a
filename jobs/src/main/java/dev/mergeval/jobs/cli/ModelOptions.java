package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** The model options every command that runs one model shares: the source and where it runs. */
final class ModelOptions {

    @Option(names = "--model", required = true, paramLabel = "SOURCE",
            description = "Model directory (any Hadoop path), BASE+ADAPTER for a LoRA adapter, or"
                    + " merge:CONFIG.yaml for a merge evaluated at load.")
    String model;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda:N.")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "PyTorch threads (0 = default).")
    int threads;

    /** {@code --model}, parsed by {@link #check}. */
    private ModelSource source;

    /** Checks the options and parses the model, checking its headers and config, before anything is loaded. */
    void check() {
        InputChecks.atLeast("--threads", threads, 0);
        InputChecks.device(device);
        source = InputChecks.models(List.of(source())).get(0);
    }

    /** The source {@link #check} parsed. */
    ModelSource parsed() {
        return source;
    }

    /** The model {@link #check} parsed. */
    LanguageModel load() {
        return ModelSources.load(source, HadoopFs.defaults(), new RuntimeOptions(device, threads, 1));
    }

    /** The source with relative paths resolved against the working directory. */
    private String source() {
        return InputChecks.modelSource(Path.of("").toAbsolutePath(), model);
    }
}
