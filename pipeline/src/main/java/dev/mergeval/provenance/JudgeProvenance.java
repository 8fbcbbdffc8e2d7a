package dev.mergeval.provenance;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * How {@code mergeval judge} made its output ({@code mergeval_provenance.json}, written last and
 * published whole with the verdicts and metrics).
 *
 * @param format          {@value EvalProvenance#FORMAT}
 * @param command         {@value #COMMAND}
 * @param mergevalVersion the version that judged (also in {@link #environment()})
 * @param createdAt       when the outputs were complete (ISO-8601)
 * @param inputs          the completions file and the judge, as given
 * @param parameters      the run's options
 * @param input           the completions file with its SHA-256
 * @param engine          what ran the judge model; {@code null} for a rule judge
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record JudgeProvenance(
        String format,
        String command,
        String mergevalVersion,
        String createdAt,
        Inputs inputs,
        Parameters parameters,
        FileHash input,
        Engine engine,
        Environment environment) implements Provenance {

    public static final String COMMAND = "judge";

    /** The completions file and the judge, as given. */
    public record Inputs(String input, String judge) {
    }

    /** {@code --model-name}, {@code --task} and {@code --device}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Parameters(String modelName, String task, String device) {
    }
}
