package dev.mergeval.train;

import dev.mergeval.common.BadInputException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A {@code mergeval finetune} run as given on the command line, with the option ranges checked
 * (a bad value is a {@link BadInputException} naming the option). Unset optional numbers are
 * null and get their defaults from the data: {@link FineTuneJob}.
 *
 * @param full train the target modules' weights themselves instead of LoRA factors
 * @param steps optimizer steps, or null (then {@code epochs}, default 1)
 * @param epochs passes over the training sequences, or null
 * @param learningRate peak learning rate, or null for the mode's default
 * @param warmup warm-up steps, or null for 10% of the steps
 * @param spfSafetyData chat-format refusals that turn SPF on, or null
 * @param spfRank fixed subspace rank, or null ({@code spfCer}, else {@link SpfConfig#DEFAULT_RANK})
 * @param spfCer CER that chooses the rank, or null
 */
public record FineTuneRequest(
        String model,
        String data,
        String out,
        boolean full,
        int loraR,
        double loraAlpha,
        List<String> targetModules,
        Integer steps,
        Double epochs,
        Double learningRate,
        int batchSize,
        Integer warmup,
        long seed,
        String device,
        boolean overwrite,
        String spfSafetyData,
        Integer spfRank,
        Double spfCer,
        int spfRefresh) {

    /** Default peak learning rate of LoRA (the merging paper's, arXiv 2412.19512). */
    public static final double LORA_LEARNING_RATE = 1e-4;
    /** Default peak learning rate of full fine-tuning. */
    public static final double FULL_LEARNING_RATE = 1e-5;
    public static final int DEFAULT_BATCH_SIZE = 8;
    public static final int DEFAULT_LORA_R = 8;
    public static final double DEFAULT_LORA_ALPHA = 16;

    private static final Pattern DEVICE = Pattern.compile("cpu|cuda:\\d+");

    public FineTuneRequest {
        // PEFT keeps target_modules as a set: a module named twice is one module, written once
        targetModules = List.copyOf(new LinkedHashSet<>(targetModules));
        if (!full) {
            new LoraConfig(loraR, loraAlpha, targetModules);
        } else if (targetModules.isEmpty() || targetModules.stream().anyMatch(String::isBlank)) {
            throw new BadInputException("--target-modules must name at least one module, got " + targetModules);
        }
        if (steps != null && epochs != null) {
            throw new BadInputException("--steps and --epochs are mutually exclusive");
        }
        if (steps != null && steps < 1) {
            throw new BadInputException("--steps must be >= 1, got " + steps);
        }
        if (epochs != null && !(epochs > 0 && epochs < 1e6)) {
            throw new BadInputException("--epochs must be a positive number, got " + epochs);
        }
        if (learningRate != null && !(learningRate > 0 && learningRate < 1)) {
            throw new BadInputException("--lr must be in (0, 1), got " + learningRate);
        }
        if (batchSize < 1) {
            throw new BadInputException("--batch-size must be >= 1, got " + batchSize);
        }
        if (warmup != null && warmup < 0) {
            throw new BadInputException("--warmup must be >= 0, got " + warmup);
        }
        if (!DEVICE.matcher(device).matches()) {
            throw new BadInputException("--device must be cpu or cuda:N, got '" + device + "'");
        }
        if (spfRank != null && spfCer != null) {
            throw new BadInputException("--spf-rank and --spf-cer are mutually exclusive");
        }
        if (spfRank != null && spfRank < 1) {
            throw new BadInputException("--spf-rank must be >= 1, got " + spfRank);
        }
        if (spfCer != null && !(spfCer > 0 && spfCer <= 1)) {
            throw new BadInputException("--spf-cer must be in (0, 1], got " + spfCer);
        }
        if (spfRefresh < 0) {
            throw new BadInputException("--spf-refresh must be >= 0, got " + spfRefresh);
        }
        if (spfSafetyData == null && (spfRank != null || spfCer != null)) {
            throw new BadInputException("--spf-rank and --spf-cer need --spf-safety-data");
        }
    }

    /** The peak learning rate: as given, or the mode's default. */
    public double peakLearningRate() {
        return learningRate != null ? learningRate : full ? FULL_LEARNING_RATE : LORA_LEARNING_RATE;
    }

    /** A regex of the target modules' weights ({@link LoraConfig#weightPattern}). */
    public String targetPattern() {
        return LoraConfig.weightPattern(targetModules);
    }
}
