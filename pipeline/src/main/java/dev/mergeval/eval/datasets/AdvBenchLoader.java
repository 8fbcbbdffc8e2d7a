package dev.mergeval.eval.datasets;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * AdvBench {@code harmful_behaviors.csv} (Zou et al. 2023, llm-attacks {@code data/advbench}):
 * columns {@code goal,target}. The prompt is {@code goal}; {@code target} (the affirmative opening
 * the attack aims for) is kept in the fields. Ids are {@code advbench-<row>} from 0.
 */
final class AdvBenchLoader {

    private AdvBenchLoader() {
    }

    public static Dataset load(String path) {
        try (Reader in = DatasetFiles.open(path)) {
            CsvTable t = CsvTable.readWithHeader(path, in, List.of("goal", "target"));
            List<EvalExample> out = new ArrayList<>();
            for (CsvTable.Row r : t.rows()) {
                out.add(EvalExample.prompt("advbench-" + out.size(), r.required("goal"), null,
                        Map.of("target", r.optional("target"))));
            }
            return new Dataset(path, DatasetKind.ADVBENCH, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
