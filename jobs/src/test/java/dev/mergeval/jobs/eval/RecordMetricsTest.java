package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.PromptRecord;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The DataFrame metrics of the eval job equal {@link MetricsAggregator}'s on the same records. */
class RecordMetricsTest {

    private static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = localSession("RecordMetricsTest");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static SparkSession localSession(String name) {
        return SparkSession.builder().appName(name).master("local[2]")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
    }

    /**
     * Records of two models on a judged task (refusal, some unparseable), a two-metric scored task
     * and a task without outcomes, over categories that include {@code all} itself and non-ASCII
     * names (Spark orders strings by UTF-8 bytes, Java by UTF-16 units).
     */
    static List<PromptRecord> records() {
        List<String> categories = List.of("all", "safe", "unsafe", "caf\u00e9", "\uD83D\uDE00", "\uFB01");
        List<PromptRecord> out = new ArrayList<>();
        for (String model : List.of("models/b", "models/a")) {
            for (int i = 0; i < 40; i++) {
                String category = categories.get(i % categories.size());
                Map<String, Boolean> judged = new LinkedHashMap<>();
                judged.put("refusal_rate", i % 7 == 3 ? null : (i * 5 + model.length()) % 3 == 0);
                out.add(record(model, "adv", i, category, judged));
                Map<String, Boolean> scored = new LinkedHashMap<>();
                scored.put("strict-match", i % 4 == 0);
                scored.put("flexible-extract", i % 4 == 0 || i % 5 == 1);
                out.add(record(model, "gsm", i, category, scored));
                out.add(record(model, "none", i, category, Map.of()));
            }
        }
        // A key whose items are all unparseable: no rate.
        out.add(record("models/a", "adv", 99, "lost", mapOfNull("refusal_rate")));
        return out;
    }

    private static Map<String, Boolean> mapOfNull(String key) {
        Map<String, Boolean> m = new LinkedHashMap<>();
        m.put(key, null);
        return m;
    }

    private static PromptRecord record(String model, String task, int i, String category, Map<String, Boolean> outcomes) {
        return new PromptRecord(model, task, task + "-" + i, category, "prompt " + i, "completion " + i, null, null,
                null, true, null, outcomes, 3 + i, i, 1.5 * i);
    }

    static Dataset<Row> frame(SparkSession spark, List<PromptRecord> records) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            rows.add(RecordRows.toRow(0, 0, i, records.get(i)));
        }
        // Several partitions, so the aggregation really merges partial counts.
        return spark.createDataFrame(rows, RecordRows.SCHEMA).repartition(3);
    }

    @Test
    void dataFrameMetricsEqualTheAggregatorOnes() {
        List<PromptRecord> records = records();
        List<MetricRow> expected = MetricsAggregator.aggregate(records);
        List<MetricRow> actual = RecordMetrics.metrics(frame(spark, records));
        assertEquals(expected, actual);
        assertTrue(actual.stream().anyMatch(r -> r.unparseable() > 0 && r.unparseable() < r.n()));
        assertTrue(actual.stream().anyMatch(r -> r.unparseable() == r.n() && Double.isNaN(r.rate())));
    }

    @Test
    void countsTableHasTheRateOfEachKey() {
        List<PromptRecord> records = records();
        Map<String, MetricRow> expected = new LinkedHashMap<>();
        MetricsAggregator.aggregate(records).forEach(r -> expected.put(key(r.model(), r.task(), r.metric(), r.category()), r));
        List<Row> rows = RecordMetrics.counts(frame(spark, records)).collectAsList();
        assertEquals(expected.size(), rows.size());
        for (Row row : rows) {
            MetricRow m = expected.get(key(row.getAs("model"), row.getAs("task"), row.getAs("metric"), row.getAs("category")));
            assertEquals(m.interval().successes(), (long) row.getAs("successes"));
            Double rate = row.getAs("rate");
            if (m.n() == m.unparseable()) {
                assertEquals(null, rate);
            } else {
                assertEquals(m.rate(), rate, 1e-15);
            }
        }
    }

    private static String key(String model, String task, String metric, String category) {
        return model + "\u0000" + task + "\u0000" + metric + "\u0000" + category;
    }
}
