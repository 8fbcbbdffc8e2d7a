package dev.mergeval.eval.datasets;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An RFC 4180 CSV file read with Jackson's CSV parser: quoted fields may span lines, and
 * {@code \n}, {@code \r\n} and {@code \r} line endings may be mixed. Every row is checked to have
 * as many fields as the header, and keeps the line it starts on for error messages.
 *
 * @param source the path, for messages
 * @param header the column names of the first row (or none, for headerless files)
 * @param rows   the data rows
 */
public record CsvTable(String source, List<String> header, List<Row> rows) {

    /** One data row, with the 1-based line number on which it starts. */
    public record Row(String source, long line, List<String> values, Map<String, String> byName) {

        /** The named column; a missing or blank value is an error naming file, line and column. */
        public String required(String column) {
            String v = byName.get(column);
            if (v == null || v.isBlank()) {
                throw bad("empty " + column);
            }
            return v;
        }

        /** The named column, or {@code ""} where absent. */
        public String optional(String column) {
            return byName.getOrDefault(column, "");
        }

        public BadInputException bad(String reason) {
            return new BadInputException(source + ":" + line + ": " + reason);
        }
    }

    private static final CsvMapper MAPPER = new CsvMapper().enable(CsvParser.Feature.WRAP_AS_ARRAY);

    /** Reads a CSV whose first row names the columns; {@code required} columns must be present. */
    public static CsvTable readWithHeader(String source, Reader in, List<String> required) {
        List<Row> raw = readRows(source, in);
        if (raw.isEmpty()) {
            throw new BadInputException(source + ": empty file, expected a header row");
        }
        List<String> header = raw.get(0).values().stream().map(String::strip).toList();
        Set<String> seen = new HashSet<>();
        for (String h : header) {
            if (!seen.add(h)) {
                throw new BadInputException(source + ":1: duplicate column '" + h + "'");
            }
        }
        for (String r : required) {
            if (!seen.contains(r)) {
                throw new BadInputException(source + ":1: missing column '" + r + "' (header: " + header + ")");
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Row r : raw.subList(1, raw.size())) {
            if (r.values().size() != header.size()) {
                throw r.bad("expected " + header.size() + " fields as in the header, found " + r.values().size());
            }
            Map<String, String> byName = new LinkedHashMap<>();
            for (int i = 0; i < header.size(); i++) {
                byName.put(header.get(i), r.values().get(i));
            }
            rows.add(new Row(source, r.line(), r.values(), byName));
        }
        return new CsvTable(source, header, rows);
    }

    /** Reads a CSV without a header row. */
    public static CsvTable readHeaderless(String source, Reader in) {
        return new CsvTable(source, List.of(), readRows(source, in));
    }

    private static List<Row> readRows(String source, Reader in) {
        List<Row> rows = new ArrayList<>();
        long line = -1;
        try (JsonParser p = MAPPER.reader().with(CsvSchema.emptySchema()).createParser(in)) {
            ((CsvParser) p).enable(CsvParser.Feature.SKIP_EMPTY_LINES);
            if (p.nextToken() != JsonToken.START_ARRAY) {
                return rows;
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.START_ARRAY) {
                // Jackson's CSV parser gives a row's start token the location of the previous row's
                // last value: the row's line is where the parser is now (past any quoted field that
                // spans lines), then exactly its first value's (past skipped empty lines).
                line = p.currentLocation().getLineNr();
                List<String> values = new ArrayList<>();
                while ((t = p.nextToken()) == JsonToken.VALUE_STRING) {
                    if (values.isEmpty()) {
                        line = p.currentTokenLocation().getLineNr();
                    }
                    values.add(p.getText());
                }
                if (t != JsonToken.END_ARRAY) {
                    throw new BadInputException(source + ":" + line + ": malformed CSV row");
                }
                rows.add(new Row(source, line, List.copyOf(values), Map.of()));
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            // the row being read (an unclosed quote is found only at the end of the file)
            long at = line > 0 ? line : e.getLocation() == null ? -1 : e.getLocation().getLineNr();
            throw new BadInputException(source + ":" + at + ": malformed CSV: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source, e);
        }
        return rows;
    }
}
