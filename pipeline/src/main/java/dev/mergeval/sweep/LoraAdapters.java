package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.common.BadInputException;
import java.util.List;

/**
 * A sweep spec's {@code lora_adapters:} block: write every linear-merge point of the grid as a PEFT
 * adapter of the aligned model, and the command that serves them all from one multi-LoRA server.
 * <pre>
 * lora_adapters:
 *   max_rank: 64        # full fine-tunes only: extract-lora at this rank first (required for them)
 *   svd: auto           # auto | exact | randomized, for that extraction (default auto)
 *   out: lora-adapters  # inside the sweep's output directory (default lora-adapters)
 * </pre>
 * ({@code lora_adapters: {}} enables it with the defaults, for LoRA fine-tunes of the aligned model.)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LoraAdapters(@JsonProperty("max_rank") Integer maxRank,
                           @JsonProperty("svd") String svd,
                           @JsonProperty("out") String out) {

    public static final String DEFAULT_OUT = "lora-adapters";

    public LoraAdapters {
        if (maxRank != null && maxRank < 1) {
            throw new BadInputException("lora_adapters.max_rank: " + maxRank + " must be at least 1");
        }
        if (svd == null) {
            svd = "auto";
        }
        if (!List.of("auto", "exact", "randomized").contains(svd)) {
            throw new BadInputException("lora_adapters.svd: '" + svd + "' must be auto, exact or randomized");
        }
        if (out == null) {
            out = DEFAULT_OUT;
        }
        if (out.isBlank() || out.startsWith("/") || out.contains("..") || out.contains(":")) {
            throw new BadInputException("lora_adapters.out: '" + out
                    + "' must be a relative directory inside the sweep's output");
        }
    }
}
