package dev.mergeval.eval.datasets;

import java.util.List;

/**
 * The items loaded from one source.
 *
 * @param source   the path the items came from
 * @param kind     the loader that read them
 * @param examples the items in file order
 */
public record Dataset(String source, DatasetKind kind, List<EvalExample> examples) {

    public Dataset {
        examples = List.copyOf(examples);
    }

    public int size() {
        return examples.size();
    }

    /** A one-line report of what was read, for logs and CLI output. */
    public String summary() {
        return kind.id() + ": " + size() + " rows from " + source;
    }
}
