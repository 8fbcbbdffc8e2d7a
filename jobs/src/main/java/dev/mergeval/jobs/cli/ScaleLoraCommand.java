package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.lora.ScaledAdapter;
import dev.mergeval.provenance.LoraAdapterProvenance;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergeval scale-lora --adapter A --ratio L OUT_DIR}: the linear merge at ratio L as an adapter. */
@Command(name = "scale-lora", mixinStandardHelpOptions = true,
        description = "Write the adapter of the linear merge at ratio L (lora_alpha scaled by L) into OUT_DIR.")
final class ScaleLoraCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "OUT_DIR", description = "adapter directory (file://, hdfs://, s3a://)")
    String outDir;

    @Option(names = "--adapter", required = true, paramLabel = "A", description = "a PEFT LoRA adapter directory")
    String adapter;

    @Option(names = "--ratio", required = true, paramLabel = "L", description = "the merge ratio l (0 = base, 1 = adapter)")
    double ratio;

    @Option(names = "--base-model", paramLabel = "BASE",
            description = "the adapter's base model; needed only when the adapter has modules_to_save tensors")
    String baseModel;

    @Option(names = "--overwrite", description = "replace an existing output")
    boolean overwrite;

    @Override
    public Integer call() {
        LoraAdapterProvenance p = ScaledAdapter.write(new ScaledAdapter.Request(adapter, ratio, baseModel, outDir,
                overwrite), HadoopFs.defaults());
        System.out.printf("scaled %s by %s: lora_alpha %s, r %d, into %s%n", adapter, ratio, p.adapter().loraAlpha(),
                p.adapter().r(), outDir);
        return MergevalCli.EXIT_OK;
    }
}
