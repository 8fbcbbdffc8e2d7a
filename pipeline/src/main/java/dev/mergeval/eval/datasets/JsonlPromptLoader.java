package dev.mergeval.eval.datasets;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Generic JSON Lines: {@code prompt} (required), and optional {@code answer}, {@code id} and
 * {@code category}. Missing ids become {@code <file stem>-<row>}.
 */
public final class JsonlPromptLoader {

    private JsonlPromptLoader() {
    }

    public static Dataset load(String path) {
        String stem = DatasetFiles.stem(path);
        List<EvalExample> out = new ArrayList<>();
        for (JsonlFile.Line l : JsonlFile.read(path)) {
            String id = l.optionalText("id");
            out.add(new EvalExample(id == null ? stem + "-" + out.size() : id, l.text("prompt"),
                    l.optionalText("answer"), l.optionalText("category"), List.of(), Map.of()));
        }
        return new Dataset(path, DatasetKind.JSONL, out);
    }
}
