package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * How {@code mergeval finetune} made an adapter or a model ({@code mergeval_provenance.json} of the
 * output, written last); the fields are listed in {@code docs/finetune.md}.
 *
 * @param madeBy         {@value #MADE_BY}
 * @param mode           {@code lora} or {@code full}
 * @param model          the model source trained, as given
 * @param data           the training data file
 * @param dataSha256     its SHA-256
 * @param records        chat records read
 * @param sequences      training sequences (assistant turns) encoded
 * @param responseTokens the tokens trained on, over all sequences
 * @param lossCurve      the loss of every step, rounded to 5 decimals
 * @param trainSeconds   training time, rounded to 0.1 s
 * @param spf            SPF's record when it was on, else absent
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record FineTuneProvenance(
        String madeBy,
        String mode,
        String model,
        String data,
        String dataSha256,
        int records,
        int sequences,
        long responseTokens,
        Hyperparameters hyperparameters,
        List<Double> lossCurve,
        double trainSeconds,
        @JsonInclude(JsonInclude.Include.NON_NULL) SpfProvenance spf,
        Environment environment) implements Provenance {

    public static final String MADE_BY = "mergeval finetune";

    public FineTuneProvenance {
        lossCurve = List.copyOf(lossCurve);
    }

    /**
     * Every setting that shapes the run.
     *
     * @param epochs  as given, absent when {@code --steps} or the default decided
     * @param loraR   LoRA only
     * @param loraAlpha LoRA only
     * @param loraInit LoRA only: how the factors start
     * @param trainable full fine-tuning only: the pattern of trained tensors
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Hyperparameters(
            int steps,
            @JsonInclude(JsonInclude.Include.NON_NULL) Double epochs,
            int batchSize,
            double learningRate,
            int warmupSteps,
            String schedule,
            String optimizer,
            double beta1,
            double beta2,
            double epsilon,
            double weightDecay,
            double gradClipGlobalNorm,
            long seed,
            String device,
            int intraOpThreads,
            List<String> targetModules,
            @JsonInclude(JsonInclude.Include.NON_NULL) Integer loraR,
            @JsonInclude(JsonInclude.Include.NON_NULL) Double loraAlpha,
            @JsonInclude(JsonInclude.Include.NON_NULL) String loraInit,
            @JsonInclude(JsonInclude.Include.NON_NULL) String trainable) {

        public Hyperparameters {
            targetModules = List.copyOf(targetModules);
        }
    }
}
