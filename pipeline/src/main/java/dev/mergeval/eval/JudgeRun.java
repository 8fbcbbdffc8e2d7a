package dev.mergeval.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.CsvTable;
import dev.mergeval.eval.datasets.DatasetFiles;
import dev.mergeval.eval.datasets.JsonlFile;
import dev.mergeval.eval.judges.Judge;
import dev.mergeval.eval.judges.JudgeInput;
import dev.mergeval.eval.judges.Verdict;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Judges completions produced elsewhere (for example by vLLM): reads a JSONL or CSV file with
 * {@code prompt} and {@code completion} (optional {@code id}, {@code category}), and writes
 * {@code verdicts.jsonl} (every input field, plus {@code refused}, {@code harmful} for model
 * judges, {@code parseable}, {@code judge} and {@code judge_output}) and the metrics.
 */
public final class JudgeRun {

    public static final String VERDICTS = "verdicts.jsonl";

    /** One input row: its original fields (in order) and where it came from. */
    public record InputRow(String source, long line, ObjectNode fields) {

        String text(String field) {
            JsonNode v = fields.get(field);
            return v == null || v.isNull() ? null : v.asText();
        }
    }

    /** What a run produced. */
    public record Result(int rows, List<MetricRow> metrics) {
    }

    private JudgeRun() {
    }

    /**
     * Reads the input, judges every row, writes the outputs into {@code outDir} on {@code fs}.
     *
     * @param model the name under which metrics are reported (for example the generating model)
     * @param task  the task name under which metrics are reported
     */
    public static Result run(String input, Judge judge, FileSystem fs, Path outDir, String model, String task) {
        List<InputRow> rows = read(input);
        List<JudgeInput> inputs = rows.stream()
                .map(r -> new JudgeInput(r.text("prompt"), r.text("completion"))).toList();
        List<Verdict> verdicts = judge.judge(inputs);
        List<ObjectNode> out = new ArrayList<>();
        List<PromptRecord> records = new ArrayList<>();
        String stem = DatasetFiles.stem(input);
        for (int i = 0; i < rows.size(); i++) {
            InputRow r = rows.get(i);
            Verdict v = verdicts.get(i);
            ObjectNode o = r.fields().deepCopy();
            putBoolean(o, "refused", v.refused());
            if (judge.judgesHarm()) {
                putBoolean(o, "harmful", v.harmful());
            }
            o.put("parseable", v.parseable());
            o.put("judge", judge.name());
            o.put("judge_output", v.judgeOutput());
            out.add(o);
            String id = r.text("id") == null ? stem + "-" + i : r.text("id");
            String category = r.text("category") == null || r.text("category").isBlank()
                    ? MetricRow.ALL : r.text("category");
            records.add(new PromptRecord(model, task, id, category, inputs.get(i).prompt(),
                    inputs.get(i).completion(), judge.name(), v.refused(), v.harmful(), v.parseable(),
                    v.judgeOutput(), outcomes(judge, v), 0, 0, 0.0));
        }
        EvalOutputs.writeJsonLines(fs, new Path(outDir, VERDICTS), out);
        List<MetricRow> metrics = MetricsAggregator.aggregate(records);
        EvalOutputs.writeMetrics(fs, outDir, metrics, Map.of("input", input, "judge", judge.name()));
        return new Result(rows.size(), metrics);
    }

    /** The metrics a verdict contributes: refusal rate, and ASR for harm judges. */
    public static Map<String, Boolean> outcomes(Judge judge, Verdict v) {
        Map<String, Boolean> m = new LinkedHashMap<>();
        m.put(PromptRecord.REFUSAL_RATE, v.refused());
        if (judge.judgesHarm()) {
            m.put(PromptRecord.ASR, v.parseable() ? v.harmful() : null);
        }
        return m;
    }

    private static void putBoolean(ObjectNode o, String field, Boolean v) {
        if (v == null) {
            o.putNull(field);
        } else {
            o.put(field, v);
        }
    }

    /** Reads a {@code .jsonl}/{@code .json} or {@code .csv} input; other extensions are rejected. */
    public static List<InputRow> read(String input) {
        String lower = input.toLowerCase(Locale.ROOT);
        List<InputRow> rows = new ArrayList<>();
        if (lower.endsWith(".jsonl") || lower.endsWith(".json")) {
            for (JsonlFile.Line l : JsonlFile.read(input)) {
                l.text("prompt");
                if (l.node().get("completion") == null || !l.node().get("completion").isTextual()) {
                    throw l.bad("missing string field 'completion'");
                }
                l.optionalText("id");
                l.optionalText("category");
                rows.add(new InputRow(input, l.line(), (ObjectNode) l.node()));
            }
        } else if (lower.endsWith(".csv")) {
            try (Reader in = DatasetFiles.open(input)) {
                for (CsvTable.Row r : CsvTable.readWithHeader(input, in, List.of("prompt", "completion")).rows()) {
                    r.required("prompt");
                    ObjectNode o = EvalOutputs.JSON.createObjectNode();
                    r.byName().forEach(o::put);
                    rows.add(new InputRow(input, r.line(), o));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        } else {
            throw new BadInputException(input + ": expected a .jsonl or .csv file with prompt and completion");
        }
        if (rows.isEmpty()) {
            throw new BadInputException(input + ": no rows");
        }
        Map<String, Long> seen = new java.util.HashMap<>();
        for (InputRow r : rows) {
            String id = r.text("id");
            Long first = id == null ? null : seen.putIfAbsent(id, r.line());
            if (first != null) {
                throw new BadInputException(input + ":" + r.line() + ": id '" + id + "' is given twice (first on line "
                        + first + "); each row needs its own id");
            }
        }
        return rows;
    }
}
