package dev.mergeval.train;

import dev.mergeval.common.BadInputException;
import java.util.List;
import java.util.regex.Pattern;

/**
 * LoRA hyperparameters as PEFT names them: rank {@code r}, {@code lora_alpha}, and
 * {@code target_modules}, module-name suffixes such as {@code q_proj} (PEFT's list matching: a
 * module is targeted when its name equals an entry or ends with {@code "." + entry}). The weight
 * of a targeted module reads {@code W + (alpha / r) B A}.
 */
public record LoraConfig(int r, double alpha, List<String> targetModules) {

    /** Every linear layer of a Llama decoder. */
    public static final List<String> LLAMA_PROJECTIONS =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public LoraConfig {
        if (r < 1) {
            throw new BadInputException("--lora-r must be >= 1, got " + r);
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new BadInputException("--lora-alpha must be a positive number, got " + alpha);
        }
        targetModules = List.copyOf(targetModules);
        if (targetModules.isEmpty() || targetModules.stream().anyMatch(String::isBlank)) {
            throw new BadInputException("--target-modules must name at least one module, got " + targetModules);
        }
    }

    /** {@code alpha / r}, in float32 as PEFT and {@code LoraCheckpoint} apply it. */
    public float scale() {
        return (float) (alpha / r);
    }

    /** True for the {@code .weight} of a targeted module, e.g. {@code model.layers.0.self_attn.q_proj.weight}. */
    public boolean targets(String tensorName) {
        return targetsModules(targetModules, tensorName);
    }

    /** PEFT's list matching of a tensor's module against {@code modules}. */
    public static boolean targetsModules(List<String> modules, String tensorName) {
        if (!tensorName.endsWith(".weight")) {
            return false;
        }
        String module = tensorName.substring(0, tensorName.length() - ".weight".length());
        return modules.stream().anyMatch(t -> module.equals(t) || module.endsWith("." + t));
    }

    /**
     * A regex matching the {@code .weight} of every module in {@code modules}, by PEFT's list
     * matching (the module's name, or a dotted suffix of it).
     */
    public static String weightPattern(List<String> modules) {
        StringBuilder alternatives = new StringBuilder();
        for (String t : modules) {
            alternatives.append(alternatives.length() == 0 ? "" : "|").append(Pattern.quote(t));
        }
        return "(?:.*\\.)?(?:" + alternatives + ")\\.weight";
    }
}
