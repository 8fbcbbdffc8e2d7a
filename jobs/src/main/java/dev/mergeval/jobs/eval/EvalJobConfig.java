package dev.mergeval.jobs.eval;

import dev.mergeval.common.BadInputException;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.source.ModelSource;
import java.io.Serializable;
import java.util.List;

/**
 * The arguments of {@code mergeval eval}.
 *
 * @param models    model sources, parsed, each evaluated on every task
 * @param suitePath the suite YAML (readable from every executor)
 * @param outDir    output directory: a local path, or a URI of any Hadoop filesystem
 * @param limit     caps every task's items ({@code -1}: the suite's own limits)
 * @param sliceSize items per unit of work
 * @param launch    for a model served by servers each executor task launches ({@link LaunchedUnits}):
 *                  the engine with its {@code launch} command; {@code null} otherwise
 * @param launchModel what the launch command's {@code {model}} stands for (a location every executor
 *                  reads), with {@code launch}
 */
public record EvalJobConfig(List<ModelSource> models, String suitePath, String outDir, int limit, int sliceSize,
                            EngineSpec launch, String launchModel)
        implements Serializable {

    public EvalJobConfig(List<ModelSource> models, String suitePath, String outDir, int limit, int sliceSize) {
        this(models, suitePath, outDir, limit, sliceSize, null, null);
    }

    public static final int DEFAULT_SLICE_SIZE = 8;

    public EvalJobConfig {
        if (models == null || models.isEmpty()) {
            throw new BadInputException("--model is required");
        }
        models = List.copyOf(models);
        if (sliceSize < 1) {
            throw new BadInputException("--slice-size must be >= 1, got " + sliceSize);
        }
        if (launch != null && (models.size() != 1 || launchModel == null || launch.launch() == null)) {
            throw new IllegalArgumentException("a launched evaluation serves one model: its launch command and location");
        }
        if (limit < -1) {
            throw new BadInputException("--limit must be >= 0, got " + limit);
        }
    }
}
