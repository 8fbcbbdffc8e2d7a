package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@code mergeval toy-models} made one toy model ({@code models/toy/<model>/toy-provenance.json});
 * {@code docs/toy-models.md} describes it. The files committed before this record existed carry
 * {@code java} and {@code os_arch} instead of {@link #environment()}; they read with a
 * {@code null} environment. The explicit order keeps the two keys named by hand
 * ({@code stories260K_sha256}, {@code MKL_CBWR}) in place: Jackson would write them first.
 *
 * @param model             {@code aligned}, {@code finetuned}, {@code finetuned-spf} or {@code base}
 * @param madeBy            the command and Mergeval version
 * @param seed              the recipe's seed (datasets and training)
 * @param trainedFrom       the starting weights, in words
 * @param trainedFromSha256 their SHA-256
 * @param stories260kSha256 the SHA-256 of the stories260K weights everything derives from
 * @param trainedOn         the training data files (none for {@code base})
 * @param dataSha256        every dataset file's SHA-256, in generation order
 * @param threads           intra-op threads
 * @param mklCbwr           {@code MKL_CBWR} at start-up (bit-reproducible only in strict mode)
 * @param heldoutScores     the model's scores on the held-out splits
 * @param training          the training configuration, as the trainer's record writes it; absent for {@code base}
 * @param trainSeconds      absent for {@code base}
 * @param lossCurve         every step's loss, rounded to 5 decimals; absent for {@code base}
 * @param spf               SPF's record for {@code finetuned-spf}, else absent
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({"model", "made_by", "seed", "trained_from", "trained_from_sha256", "stories260K_sha256", "trained_on",
    "data_sha256", "threads", "MKL_CBWR", "heldout_scores", "training", "train_seconds", "loss_curve", "spf",
    "environment"})
public record ToyProvenance(
        String model,
        String madeBy,
        long seed,
        String trainedFrom,
        String trainedFromSha256,
        @JsonProperty("stories260K_sha256") String stories260kSha256,
        List<String> trainedOn,
        Map<String, String> dataSha256,
        int threads,
        @JsonProperty("MKL_CBWR") String mklCbwr,
        Scores heldoutScores,
        @JsonInclude(JsonInclude.Include.NON_NULL) JsonNode training,
        @JsonInclude(JsonInclude.Include.NON_NULL) Double trainSeconds,
        @JsonInclude(JsonInclude.Include.NON_NULL) List<Double> lossCurve,
        @JsonInclude(JsonInclude.Include.NON_NULL) SpfProvenance spf,
        @JsonInclude(JsonInclude.Include.NON_NULL) Environment environment) implements Provenance {

    public ToyProvenance {
        trainedOn = List.copyOf(trainedOn);
        dataSha256 = Collections.unmodifiableMap(new LinkedHashMap<>(dataSha256));
        training = Provenance.tree(training);
        lossCurve = lossCurve == null ? null : List.copyOf(lossCurve);
    }

    /** The held-out scores, under the names {@code docs/toy-models.md} and the tests use. */
    public record Scores(double refusal, double overRefusalBorderline, double overRefusalBenign, double task) {
    }
}
