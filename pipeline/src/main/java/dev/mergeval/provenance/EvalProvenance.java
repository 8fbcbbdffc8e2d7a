package dev.mergeval.provenance;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * How {@code mergeval eval} made an evaluation output ({@code mergeval_provenance.json} of the
 * output directory, written last and published whole with the records and metrics). The first six
 * keys are those of every staged output ({@code docs/evaluation.md}).
 *
 * @param format          {@value #FORMAT}
 * @param command         {@value #COMMAND}
 * @param mergevalVersion the version that evaluated (also in {@link #environment()})
 * @param createdAt       when the outputs were complete (ISO-8601)
 * @param inputs          the suite file and the model sources, as given
 * @param parameters      the run's options
 * @param suite           the suite file's hash, name and seed
 * @param datasets        every dataset and few-shot file the suite reads, with its SHA-256, in task order
 * @param engine          what ran the models
 * @param tasks           each task as the suite resolved it, with its generation settings
 * @param seed            the suite's seed (sampling of items and shots, and of generation)
 * @param limit           {@code --limit}, {@code -1} for none
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record EvalProvenance(
        String format,
        String command,
        String mergevalVersion,
        String createdAt,
        Inputs inputs,
        Parameters parameters,
        Suite suite,
        List<FileHash> datasets,
        Engine engine,
        List<Task> tasks,
        long seed,
        int limit,
        Environment environment) implements Provenance {

    /** The format of every staged output's provenance ({@code eval}, {@code judge}). */
    public static final String FORMAT = "mergeval-output-provenance/1";
    public static final String COMMAND = "eval";

    public EvalProvenance {
        datasets = List.copyOf(datasets);
        tasks = List.copyOf(tasks);
    }

    /** The suite file and the model sources, each as its text form. */
    public record Inputs(String suite, List<String> models) {
        public Inputs {
            models = List.copyOf(models);
        }
    }

    /** {@code --limit}, {@code --slice-size} and the Spark master. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Parameters(int limit, int sliceSize, String sparkMaster) {
    }

    /** The suite: its file's SHA-256, its name and seed. */
    public record Suite(String path, String sha256, String name, long seed) {
    }

    /**
     * A task as the suite resolved it (defaults applied).
     *
     * @param judge  the judge, or {@code null} for a scored task
     * @param scorer the scorer, or {@code null} for a judged task
     * @param limit  at most this many items ({@code -1}: all)
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Task(String name, String datasetKind, String dataset, String fewShot, int nShot, String judge,
                       String scorer, boolean chatTemplate, String systemPrompt, int limit, Generation generation) {
    }

    /** Decoding settings ({@code temperature} 0 is greedy; {@code seed} feeds sampling). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Generation(int maxNewTokens, double temperature, int topK, double topP, double repetitionPenalty,
                             long seed, List<String> stop) {
        public Generation {
            stop = List.copyOf(stop);
        }
    }
}
