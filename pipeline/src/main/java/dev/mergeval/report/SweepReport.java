package dev.mergeval.report;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.PointResult;
import dev.mergeval.sweep.Selection;
import dev.mergeval.sweep.SweepSpec;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Writes a sweep's outputs into one directory: {@code results.csv}, {@code summary.json}, {@code report.html}. */
public final class SweepReport {
    private SweepReport() {
    }

    /** Writes the three files into local {@code dir} (created if needed), replacing earlier ones. */
    public static void write(java.nio.file.Path dir, SweepSpec spec, List<PointResult> results, Selection selection,
            SweepProvenance provenance) {
        write(HadoopFs.local(), HadoopFs.of(dir), spec, results, selection, provenance);
    }

    /** Writes the three files into {@code dir} on {@code fs}, replacing earlier ones. */
    public static void write(FileSystem fs, Path dir, SweepSpec spec, List<PointResult> results, Selection selection,
            SweepProvenance provenance) {
        ResultsCsv.write(fs, new Path(dir, ResultsCsv.FILE), spec, results);
        SummaryJson.write(fs, new Path(dir, SummaryJson.FILE), spec, results, selection, provenance);
        ReportHtml.write(fs, new Path(dir, ReportHtml.FILE), spec, results, selection, provenance);
    }
}
