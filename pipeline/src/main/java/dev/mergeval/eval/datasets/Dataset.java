package dev.mergeval.eval.datasets;

import dev.mergeval.common.BadInputException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < examples.size(); i++) {
            String id = examples.get(i).id();
            Integer first = seen.putIfAbsent(id, i);
            if (first != null) {
                // Items are sampled, limited and reported by id: two of one id would be counted as one.
                throw new BadInputException(source + ": id '" + id + "' is given twice (items " + (first + 1) + " and "
                        + (i + 1) + "); each item needs its own id");
            }
        }
    }

    public int size() {
        return examples.size();
    }

    /** A one-line report of what was read, for logs and CLI output. */
    public String summary() {
        return kind.id() + ": " + size() + " rows from " + source;
    }
}
