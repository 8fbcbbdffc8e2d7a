package dev.mergeval.report;

import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Writes a sweep's outputs into one directory: {@code results.csv}, {@code summary.json}, {@code report.html}. */
public final class SweepReport {
    private SweepReport() {
    }

    /** Writes the three files into {@code dir} (created if needed), replacing earlier ones. */
    public static void write(Path dir, SweepSpec spec, List<PointResult> results, Selection selection,
            SweepProvenance provenance) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        ResultsCsv.write(dir.resolve(ResultsCsv.FILE), spec, results);
        SummaryJson.write(dir.resolve(SummaryJson.FILE), spec, results, selection, provenance);
        ReportHtml.write(dir.resolve(ReportHtml.FILE), spec, results, selection, provenance);
    }
}
