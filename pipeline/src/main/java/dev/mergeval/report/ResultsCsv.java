package dev.mergeval.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.Mappers;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code results.csv}: one row per point of the {@link SweepTable}, in its point order, with columns
 * <pre>
 *   point_id, role, method, finetuned, ratio, parameters,
 *   then per metric M, in the table's metric order (safety, over-refusal, task, then the rest by name):
 *   M, M_low, M_high, M_n, M_unparseable
 * </pre>
 * {@code parameters} is the variant's grid parameters as compact JSON with sorted keys; M is the
 * rate, [M_low, M_high] its Wilson 95% interval, M_n the parseable items. Absent values are empty
 * cells. Quoting follows RFC 4180.
 */
public final class ResultsCsv {
    public static final String FILE = "results.csv";

    private static final ObjectMapper JSON = Mappers.SORTED;

    private ResultsCsv() {
    }

    public static void write(Path file, SweepTable table) {
        write(HadoopFs.local(), HadoopFs.of(file), table);
    }

    /** Writes {@code file} on {@code fs}. */
    public static void write(FileSystem fs, org.apache.hadoop.fs.Path file, SweepTable table) {
        List<String> metrics = table.metrics();
        List<String> header = new ArrayList<>(List.of("point_id", "role", "method", "finetuned", "ratio",
                "parameters"));
        for (String m : metrics) {
            header.addAll(List.of(m, m + "_low", m + "_high", m + "_n", m + "_unparseable"));
        }
        // Quote only where RFC 4180 needs it: Jackson by default also quotes any value over 24
        // characters, so of two header fields only the longer one was quoted.
        CsvMapper csv = CsvMapper.builder().enable(CsvGenerator.Feature.STRICT_CHECK_FOR_QUOTING).build();
        try (Writer w = HadoopFs.writer(fs, file);
             var out = csv.writerFor(String[].class).with(CsvSchema.emptySchema().withLineSeparator("\n"))
                     .writeValues(w)) {
            out.write(header.toArray(new String[0]));
            for (SweepTable.Row r : table.rows()) {
                SweepPoint p = r.point();
                List<String> row = new ArrayList<>(List.of(p.id(), p.role().json(), orEmpty(p.method()),
                        orEmpty(p.finetuned()), p.ratio() == null ? "" : Double.toString(p.ratio()), json(p)));
                for (String name : metrics) {
                    Metric m = r.metrics().get(name);
                    if (m == null) {
                        row.addAll(List.of("", "", "", "", ""));
                    } else {
                        row.addAll(List.of(number(m.value()), number(m.low()), number(m.high()),
                                Long.toString(m.n()), Long.toString(m.unparseable())));
                    }
                }
                out.write(row.toArray(new String[0]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static String json(SweepPoint p) throws JsonProcessingException {
        return JSON.writeValueAsString(new TreeMap<>(p.parameters()));
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "" : Double.toString(v);
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }
}
