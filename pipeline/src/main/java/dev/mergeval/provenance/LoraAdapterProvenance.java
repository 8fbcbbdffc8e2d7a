package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.Map;

/**
 * How {@code mergeval extract-lora} or {@code mergeval scale-lora} made a PEFT adapter
 * ({@code mergeval_provenance.json} of the adapter directory, written last); the fields are listed in
 * {@code docs/extract-lora.md}.
 *
 * @param madeBy     {@value #EXTRACT} or {@value #SCALE}
 * @param inputs     every input (role {@code model}, {@code base_model} or {@code adapter}) with its files' SHA-256
 * @param parameters the options that shape the adapter
 * @param adapter    what was written: {@code r}, {@code lora_alpha} and the files with their SHA-256
 * @param modules    per LoRA module (extraction only): its rank and relative Frobenius error
 * @param whole      tensors that differ but are not decomposed (extraction only): saved or reported
 * @param totals     extraction only: counts and the error over all decomposed matrices together
 * @param executor   where the per-tensor work ran, e.g. {@code threads(2)} or {@code spark(local[2])}
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record LoraAdapterProvenance(
        String madeBy,
        String version,
        List<Input> inputs,
        JsonNode parameters,
        Adapter adapter,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Module> modules,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Whole> whole,
        @JsonInclude(JsonInclude.Include.NON_NULL) Totals totals,
        String executor,
        long wallMillis,
        Environment environment) implements Provenance {

    public static final String EXTRACT = "mergeval extract-lora";
    public static final String SCALE = "mergeval scale-lora";

    /** One input model or adapter as given, with its files. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Input(String role, String source, List<FileHash> files) {
    }

    /** The adapter written. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Adapter(int r, double loraAlpha, List<String> targetModules, List<String> modulesToSave,
            List<FileHash> files) {
    }

    /**
     * One decomposed matrix {@code D = FT - BASE} ({@code rows x cols}, as the tensor is stored).
     *
     * @param lora          {@code linear} ({@code lora_A}, {@code lora_B}) or {@code embedding}
     *                      ({@code lora_embedding_A}, {@code lora_embedding_B}: the factors of {@code D^T})
     * @param rank          the rank kept ({@code <= max_rank}; lower where {@code D} has lower numerical rank,
     *                      in double precision)
     * @param svd           {@code exact} or {@code randomized}
     * @param deltaNorm     {@code ||D||_F}
     * @param relativeError {@code ||D - scale * B A||_F / ||D||_F} of the factors as written (float32)
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Module(String tensor, String lora, long rows, long cols, int rank, String svd, double deltaNorm,
            double relativeError) {
    }

    /**
     * A tensor that differs and is not decomposed: {@code action} is {@code saved} (whole, under
     * {@code modules_to_save}), {@code reported} (not in the adapter) or {@code lora_bias} (a bias of a
     * decomposed module, written exactly as its {@code lora_B} bias).
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Whole(String action, List<Long> shape, double deltaNorm) {
    }

    /**
     * @param matrices        decomposed matrices
     * @param equalSkipped    tensors equal in both models, left out
     * @param relativeError   {@code sqrt(sum ||D - D_R||^2) / sqrt(sum ||D||^2)} over the decomposed matrices
     * @param maxRelativeError the largest per-matrix relative error
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Totals(int matrices, int wholeTensors, int equalSkipped, double relativeError,
            double maxRelativeError) {
    }
}
