package dev.mergeval.eval.datasets;

import dev.mergeval.common.BadInputException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The dataset formats Mergeval reads; {@link #id()} is the name used in suites. */
public enum DatasetKind {
    ADVBENCH,
    HARMBENCH,
    HEXPHI,
    XSTEST,
    JSONL,
    GSM8K,
    ARC,
    MMLU;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True for the kinds scored by log-likelihood of choices. */
    public boolean multipleChoice() {
        return this == ARC || this == MMLU;
    }

    public static DatasetKind parse(String id) {
        for (DatasetKind k : values()) {
            if (k.id().equals(id)) {
                return k;
            }
        }
        throw new BadInputException("unknown dataset kind '" + id + "'; known: "
                + Arrays.stream(values()).map(DatasetKind::id).collect(Collectors.joining(", ")));
    }
}
