package dev.mergeval.report;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.provenance.SweepProvenance;
import dev.mergeval.sweep.SweepTable;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes a sweep's outputs into one directory: {@code results.csv}, {@code summary.json}, {@code report.html},
 * all three from the same {@link SweepTable}.
 */
public final class SweepReport {
    private SweepReport() {
    }

    /** Writes the three files into local {@code dir} (created if needed), replacing earlier ones. */
    public static void write(java.nio.file.Path dir, SweepTable table, SweepProvenance provenance) {
        write(HadoopFs.local(), HadoopFs.of(dir), table, provenance);
    }

    /** Writes the three files into {@code dir} on {@code fs}, replacing earlier ones. */
    public static void write(FileSystem fs, Path dir, SweepTable table, SweepProvenance provenance) {
        ResultsCsv.write(fs, new Path(dir, ResultsCsv.FILE), table);
        SummaryJson.write(fs, new Path(dir, SummaryJson.FILE), table, provenance);
        ReportHtml.write(fs, new Path(dir, ReportHtml.FILE), table, provenance);
    }
}
