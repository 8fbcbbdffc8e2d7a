package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.train.FineTuneJob;
import dev.mergeval.train.FineTuneRequest;
import dev.mergeval.train.SpfConfig;
import dev.mergeval.train.SpfReport;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mergeval finetune}: LoRA (default) or full fine-tuning of a Llama-family model on
 * chat-format JSONL, optionally with SPF ({@code --spf-safety-data}); see {@link FineTuneJob}.
 */
@Command(name = "finetune", mixinStandardHelpOptions = true,
        description = "Fine-tune a model on chat-format JSONL (LoRA by default, --full for all target weights), "
                + "optionally with SPF safety-preserving projection.")
final class FinetuneCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "SOURCE",
            description = "Model directory (any Hadoop path) or BASE+ADAPTER.")
    String model;

    @Option(names = "--data", required = true, paramLabel = "TRAIN.jsonl",
            description = "Chat-format JSONL: one {\"messages\": [{\"role\", \"content\"}, ...]} per line; "
                    + "the loss covers the assistant turns.")
    String data;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (a PEFT adapter, or a model with --full).")
    String out;

    @Option(names = "--full", description = "Train the target modules' weights themselves and write a model directory.")
    boolean full;

    @Option(names = "--lora-r", paramLabel = "R", description = "LoRA rank (default " + FineTuneRequest.DEFAULT_LORA_R + ").")
    Integer loraR;

    @Option(names = "--lora-alpha", paramLabel = "A",
            description = "LoRA alpha; scale alpha/r (default " + FineTuneRequest.DEFAULT_LORA_ALPHA + ").")
    Double loraAlpha;

    @Option(names = "--target-modules", split = ",", paramLabel = "M",
            defaultValue = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
            description = "Modules adapted (LoRA) or trained (--full), PEFT's list matching (default ${DEFAULT-VALUE}).")
    List<String> targetModules;

    @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps (exclusive with --epochs; default: 1 epoch).")
    Integer steps;

    @Option(names = "--epochs", paramLabel = "E", description = "Passes over the data: ceil(E * turns / batch) steps.")
    Double epochs;

    @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate (default "
            + FineTuneRequest.LORA_LEARNING_RATE + " LoRA, " + FineTuneRequest.FULL_LEARNING_RATE + " --full).")
    Double lr;

    @Option(names = "--batch-size", paramLabel = "B", defaultValue = "" + FineTuneRequest.DEFAULT_BATCH_SIZE,
            description = "Assistant turns per step (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--warmup", paramLabel = "W", description = "Linear warm-up steps before the cosine decay (default: 10%% of the steps).")
    Integer warmup;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "" + KeyedRandom.DEFAULT_SEED, description = "Seed of the batch order and the LoRA init (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", paramLabel = "DEV", defaultValue = "cpu", description = "cpu or cuda:N (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--overwrite", description = "Replace an existing non-empty --out.")
    boolean overwrite;

    @Option(names = "--spf-safety-data", paramLabel = "FILE",
            description = "Chat-format refusals to harmful requests: turns SPF on.")
    String spfSafetyData;

    @Option(names = "--spf-rank", paramLabel = "K", description = "SPF subspace rank per matrix (default " + SpfConfig.DEFAULT_RANK + ").")
    Integer spfRank;

    @Option(names = "--spf-cer", paramLabel = "C", description = "Instead of --spf-rank: the smallest rank keeping this share of the squared singular values.")
    Double spfCer;

    @Option(names = "--spf-refresh", paramLabel = "STEPS",
            description = "Re-estimate the subspace every STEPS steps at the current weights; 0 = once at the start (default "
                    + SpfConfig.DEFAULT_REFRESH + ").")
    Integer spfRefresh;

    @Override
    public Integer call() {
        if (spfRefresh != null && spfSafetyData == null) {
            throw new BadInputException("--spf-refresh needs --spf-safety-data");
        }
        if (full && (loraR != null || loraAlpha != null)) {
            throw new BadInputException("--lora-r and --lora-alpha set LoRA factors; --full trains the weights themselves");
        }
        int rank = loraR == null ? FineTuneRequest.DEFAULT_LORA_R : loraR;
        double alpha = loraAlpha == null ? FineTuneRequest.DEFAULT_LORA_ALPHA : loraAlpha;
        FineTuneRequest request = new FineTuneRequest(InputChecks.modelSource(Path.of("").toAbsolutePath(), model),
                InputChecks.path(data), InputChecks.path(out), full, rank, alpha, targetModules, steps, epochs, lr,
                batchSize, warmup, seed, device, overwrite, spfSafetyData == null ? null : InputChecks.path(spfSafetyData),
                spfRank, spfCer, spfRefresh == null ? SpfConfig.DEFAULT_REFRESH : spfRefresh);
        FineTuneJob.Outcome o = FineTuneJob.run(request, HadoopFs.defaults(), new ConsoleProgress(),
                LoggerFactory.getLogger(FineTuneJob.class)::info);
        List<Double> losses = o.run().losses();
        System.out.printf("fine-tuned (%s) %d steps on %d assistant turns in %.1f s: loss %.4f -> %.4f; wrote %s%n",
                full ? "full" : "LoRA r " + rank, o.training().steps(), o.sequences(), o.run().seconds(),
                losses.get(0), losses.get(losses.size() - 1), o.outDir());
        SpfReport spf = o.run().spf();
        if (spf != null) {
            var j = spf.provenance(null, null, null, null, null, null, 0);
            System.out.printf("SPF: %d matrices, %.1f%% of matrix-steps in conflict, %.1f%% of the update norm removed, "
                    + "CER safety %.3f / task %.3f%n", j.matricesGuarded(), 100 * j.meanConflictShare(),
                    100 * j.meanRemovedNormShare(), j.meanSafetyCer(), j.meanTaskCer());
        }
        return MergevalCli.EXIT_OK;
    }
}
