package dev.mergeval.eval.datasets;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * HarmBench behaviors CSV (Mazeika et al. 2024): {@code Behavior, FunctionalCategory,
 * SemanticCategory, Tags, ContextString, BehaviorID}. The id is {@code BehaviorID} and the category
 * {@code SemanticCategory}. A contextual behavior puts its context first, as HarmBench's own
 * completion prompts do: {@code ContextString + "\n\n---\n\n" + Behavior}.
 */
final class HarmBenchLoader {

    static final String CONTEXT_SEPARATOR = "\n\n---\n\n";
    private static final List<String> COLUMNS = List.of(
            "Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID");

    private HarmBenchLoader() {
    }

    public static Dataset load(String path) {
        try (Reader in = DatasetFiles.open(path)) {
            CsvTable t = CsvTable.readWithHeader(path, in, COLUMNS);
            List<EvalExample> out = new ArrayList<>();
            for (CsvTable.Row r : t.rows()) {
                String behavior = r.required("Behavior");
                String context = r.optional("ContextString");
                String functional = r.required("FunctionalCategory");
                if ("contextual".equals(functional) && context.isBlank()) {
                    throw r.bad("contextual behavior without ContextString");
                }
                String prompt = context.isBlank() ? behavior : context + CONTEXT_SEPARATOR + behavior;
                out.add(EvalExample.prompt(r.required("BehaviorID"), prompt, r.required("SemanticCategory"),
                        Map.of("behavior", behavior, "functional_category", functional,
                                "tags", r.optional("Tags"))));
            }
            return new Dataset(path, DatasetKind.HARMBENCH, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
