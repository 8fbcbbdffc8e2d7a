package dev.mergeval.jobs.eval;

import dev.mergeval.common.BadInputException;
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
 * @param launch    the command that started the server of served models (a sweep point's), for
 *                  provenance; {@code null} otherwise
 */
public record EvalJobConfig(List<ModelSource> models, String suitePath, String outDir, int limit, int sliceSize,
                            String launch)
        implements Serializable {

    public EvalJobConfig(List<ModelSource> models, String suitePath, String outDir, int limit, int sliceSize) {
        this(models, suitePath, outDir, limit, sliceSize, null);
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
        if (limit < -1) {
            throw new BadInputException("--limit must be >= 0, got " + limit);
        }
    }
}
