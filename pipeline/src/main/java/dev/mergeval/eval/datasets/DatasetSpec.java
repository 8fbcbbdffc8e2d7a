package dev.mergeval.eval.datasets;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;

/**
 * Where and how to load one dataset.
 *
 * @param kind        the format
 * @param path        the file (or, for HEx-PHI, the directory)
 * @param fewShotPath the file of solved examples for n-shot prompts (GSM8K), or {@code null}
 * @param nShot       the number of shots (GSM8K), 0 for none
 * @param seed        selects shots and, with a limit, the sampled items
 */
public record DatasetSpec(DatasetKind kind, String path, String fewShotPath, int nShot, long seed) {

    public DatasetSpec {
        if (kind == null) {
            throw new BadInputException("dataset kind is required");
        }
        if (path == null || path.isBlank()) {
            throw new BadInputException("dataset path is required for kind " + kind.id());
        }
        if (nShot < 0) {
            throw new BadInputException("n_shot must be >= 0, got " + nShot);
        }
        if (nShot > 0 && kind != DatasetKind.GSM8K) {
            throw new BadInputException("n_shot is supported for gsm8k only, not " + kind.id());
        }
    }

    public static DatasetSpec of(DatasetKind kind, String path) {
        return new DatasetSpec(kind, path, null, 0, KeyedRandom.DEFAULT_SEED);
    }
}
