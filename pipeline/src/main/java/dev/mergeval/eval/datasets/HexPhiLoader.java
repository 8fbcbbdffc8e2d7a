package dev.mergeval.eval.datasets;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * HEx-PHI style (Qi et al. 2023): a directory with one headerless CSV per harm category
 * ({@code category_1.csv}, ...), one prompt per row in the first column. The category is the file
 * stem; ids are {@code <stem>-<row>}. Files are read in name order.
 */
final class HexPhiLoader {

    private HexPhiLoader() {
    }

    public static Dataset load(String dir) {
        List<String> files = DatasetFiles.list(dir, ".csv");
        if (files.isEmpty()) {
            throw new dev.mergeval.common.BadInputException(dir + ": no .csv files (HEx-PHI: one CSV per category)");
        }
        List<EvalExample> out = new ArrayList<>();
        for (String file : files) {
            String category = DatasetFiles.stem(file);
            try (Reader in = DatasetFiles.open(file)) {
                int row = 0;
                for (CsvTable.Row r : CsvTable.readHeaderless(file, in).rows()) {
                    if (r.values().size() != 1) {
                        throw r.bad("expected one prompt per row, found " + r.values().size() + " fields");
                    }
                    String prompt = r.values().get(0);
                    if (prompt.isBlank()) {
                        throw r.bad("empty prompt");
                    }
                    out.add(EvalExample.prompt(category + "-" + row++, prompt, category, Map.of()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return new Dataset(dir, DatasetKind.HEXPHI, out);
    }
}
