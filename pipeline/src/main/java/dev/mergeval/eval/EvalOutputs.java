package dev.mergeval.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.Mappers;
import dev.mergeval.eval.datasets.DatasetSpec;
import dev.mergeval.provenance.Engine;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.EvalProvenance;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * Writes evaluation outputs: per-prompt records as JSON Lines (snake_case field names), and
 * metrics as {@code metrics.json} and {@code metrics.csv}, one row per model, task, metric and
 * category with rate, Wilson interval, n and unparseable count. Everything is written through the
 * Hadoop FileSystem API, so outputs may live on any Hadoop filesystem; the {@code java.nio} overloads
 * write to the local one.
 */
public final class EvalOutputs {

    public static final String RECORDS = "records.jsonl";
    public static final String METRICS_JSON = "metrics.json";
    public static final String METRICS_CSV = "metrics.csv";
    static final String CSV_HEADER = "model,task,metric,category,n,unparseable,successes,rate,ci_low,ci_high";

    /** The mapper for records and metrics (also used to read them back in tests). */
    public static final ObjectMapper JSON = Mappers.json()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .build();

    private EvalOutputs() {
    }

    public static void writeRecords(Path file, List<PromptRecord> records) {
        writeJsonLines(HadoopFs.local(), HadoopFs.of(file), records);
    }

    /** Writes any objects as one JSON document per line. */
    public static void writeJsonLines(FileSystem fs, org.apache.hadoop.fs.Path file, List<?> objects) {
        try (Writer w = HadoopFs.writer(fs, file)) {
            for (Object o : objects) {
                w.write(JSON.writeValueAsString(o));
                w.write('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** Writes {@code metrics.json} and {@code metrics.csv} into {@code dir}; {@code info} goes into the JSON header. */
    public static void writeMetrics(Path dir, List<MetricRow> rows, Map<String, ?> info) {
        writeMetrics(HadoopFs.local(), HadoopFs.of(dir), rows, info);
    }

    /** {@link #writeMetrics(Path, List, Map)} on any Hadoop filesystem. */
    public static void writeMetrics(FileSystem fs, org.apache.hadoop.fs.Path dir, List<MetricRow> rows,
            Map<String, ?> info) {
        try {
            ObjectNode root = JSON.createObjectNode();
            root.put("mergeval_version", Environment.buildVersion());
            info.forEach((key, value) -> root.set(key, JSON.valueToTree(value)));
            ArrayNode arr = root.putArray("metrics");
            StringBuilder csv = new StringBuilder(CSV_HEADER).append('\n');
            for (MetricRow r : rows) {
                RateInterval iv = r.interval();
                ObjectNode o = arr.addObject();
                o.put("model", r.model()).put("task", r.task()).put("metric", r.metric()).put("category", r.category())
                        .put("n", r.n()).put("unparseable", r.unparseable()).put("successes", iv.successes());
                putNumber(o, "rate", iv.rate());
                o.put("ci_low", iv.low()).put("ci_high", iv.high());
                csv.append(String.join(",", csvField(r.model()), csvField(r.task()), csvField(r.metric()),
                        csvField(r.category()), Long.toString(r.n()), Long.toString(r.unparseable()),
                        Long.toString(iv.successes()), number(iv.rate()), number(iv.low()), number(iv.high())))
                        .append('\n');
            }
            HadoopFs.writeString(fs, new org.apache.hadoop.fs.Path(dir, METRICS_JSON),
                    JSON.writer(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root));
            HadoopFs.writeString(fs, new org.apache.hadoop.fs.Path(dir, METRICS_CSV), csv.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics to " + dir, e);
        }
    }

    /**
     * The provenance of an evaluation of {@code suite} (read from {@code suitePath}) on
     * {@code models}: the suite file and every dataset file are hashed now, on the driver, before
     * any item is read; the supplier completes the record when the outputs are, with the time.
     *
     * @param models the model sources, recorded in their text form ({@link ModelSource#text()})
     */
    public static Supplier<EvalProvenance> provenance(EvalSuite suite, String suitePath, List<ModelSource> models,
            int limit, int sliceSize, String sparkMaster, Configuration conf) {
        return provenance(suite, suitePath, models, limit, sliceSize, sparkMaster, conf, null);
    }

    /**
     * As above, with what ran the models: {@code engine}, or the in-JVM runtime where it is null.
     */
    public static Supplier<EvalProvenance> provenance(EvalSuite suite, String suitePath, List<ModelSource> models,
            int limit, int sliceSize, String sparkMaster, Configuration conf, Engine engine) {
        Map<String, FileHash> datasets = new LinkedHashMap<>();
        List<EvalProvenance.Task> tasks = new ArrayList<>();
        for (EvalTask t : suite.tasks()) {
            DatasetSpec d = t.dataset();
            for (String file : new String[] {d.path(), d.fewShotPath()}) {
                if (file != null && !datasets.containsKey(file)) {
                    datasets.put(file, hash(file, conf));
                }
            }
            GenerationParams g = t.generation();
            tasks.add(new EvalProvenance.Task(t.name(), d.kind().id(), d.path(), d.fewShotPath(), d.nShot(),
                    t.judge() == null ? null : t.judge().toString(), t.scorer(), t.chatTemplate(), t.systemPrompt(),
                    t.limit(), new EvalProvenance.Generation(g.maxNewTokens(), g.temperature(), g.topK(), g.topP(),
                            g.repetitionPenalty(), g.seed(), g.stopStrings())));
        }
        EvalProvenance.Suite suiteRecord = new EvalProvenance.Suite(suitePath, hash(suitePath, conf).sha256(),
                suite.name(), suite.seed());
        List<String> sources = models.stream().map(ModelSource::text).toList();
        Environment environment = Environment.current();
        return () -> new EvalProvenance(EvalProvenance.FORMAT, EvalProvenance.COMMAND, Environment.buildVersion(),
                Instant.now().toString(), new EvalProvenance.Inputs(suitePath, sources),
                new EvalProvenance.Parameters(limit, sliceSize, sparkMaster), suiteRecord,
                List.copyOf(datasets.values()), engine == null ? Engine.djl(environment) : engine, tasks, suite.seed(), limit, environment);
    }

    /** A file's length and SHA-256, read through its Hadoop filesystem. */
    public static FileHash hash(String file, Configuration conf) {
        org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(file);
        try {
            long bytes = HadoopFs.get(path, conf).getFileStatus(path).getLen();
            return new FileHash(file, bytes, HadoopFs.sha256(file, conf));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static void putNumber(ObjectNode o, String field, double v) {
        if (Double.isNaN(v)) {
            o.putNull(field);
        } else {
            o.put(field, v);
        }
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6f", v);
    }

    static String csvField(String s) {
        if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
            return '"' + s.replace("\"", "\"\"") + '"';
        }
        return s;
    }
}
