package dev.mergeval.eval.datasets;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * XSTest {@code xstest_prompts.csv} (Röttger et al. 2024): {@code id,prompt,type,label,focus,note}.
 * The category is {@code label}: {@code safe} rows measure over-refusal (a good model answers
 * them), {@code unsafe} rows (the contrast prompts) measure refusal. {@code type}, {@code focus} and
 * {@code note} are kept in the fields.
 */
final class XsTestLoader {

    public static final String SAFE = "safe";
    public static final String UNSAFE = "unsafe";

    private XsTestLoader() {
    }

    public static Dataset load(String path) {
        try (Reader in = DatasetFiles.open(path)) {
            CsvTable t = CsvTable.readWithHeader(path, in, List.of("id", "prompt", "type", "label"));
            List<EvalExample> out = new ArrayList<>();
            for (CsvTable.Row r : t.rows()) {
                String label = r.required("label");
                if (!SAFE.equals(label) && !UNSAFE.equals(label)) {
                    throw r.bad("label must be 'safe' or 'unsafe', found '" + label + "'");
                }
                out.add(EvalExample.prompt("xstest-" + r.required("id"), r.required("prompt"), label,
                        Map.of("type", r.required("type"), "focus", r.optional("focus"), "note", r.optional("note"))));
            }
            return new Dataset(path, DatasetKind.XSTEST, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
