package dev.mergeval.jobs.eval;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.explode;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.MetricsAggregator;
import dev.mergeval.eval.RateInterval;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The metrics tables of the eval job computed from the records DataFrame ({@link RecordRows#SCHEMA})
 * with built-in Spark SQL operators only (explode, group by, count, sum; no row UDFs), so the
 * aggregation stages stay eligible for Spark RAPIDS' GPU operators. Same counts as
 * {@link MetricsAggregator}: each (record, outcome) adds to its own category and to
 * {@link MetricRow#ALL}; a {@code null} outcome is unparseable.
 */
final class RecordMetrics {

    private RecordMetrics() {
    }

    /**
     * One row per (model, task, metric, category): {@code n}, {@code unparseable}, {@code successes}
     * and {@code rate = successes / (n - unparseable)} (null when every item is unparseable).
     */
    public static Dataset<Row> counts(Dataset<Row> records) {
        Column categories = when(col("category").equalTo(lit(MetricRow.ALL)), array(lit(MetricRow.ALL)))
                .otherwise(array(lit(MetricRow.ALL), col("category")));
        return records
                .select(col("model"), col("task"), explode(col("outcomes")).as(new String[] {"metric", "outcome"}),
                        categories.as("categories"))
                // Spark allows one generator per select.
                .select(col("model"), col("task"), col("metric"), col("outcome"), explode(col("categories")).as("category"))
                .groupBy("model", "task", "metric", "category")
                .agg(count(lit(1)).as("n"),
                        sum(when(col("outcome").isNull(), 1L).otherwise(0L)).as("unparseable"),
                        sum(when(col("outcome"), 1L).otherwise(0L)).as("successes"))
                .withColumn("rate", col("successes").divide(col("n").minus(col("unparseable"))));
    }

    /**
     * The metric rows: {@link #counts} collected (one row per key, a small table) with the Wilson
     * interval of {@link RateInterval#wilson}, in (model, task, metric, category) order.
     */
    public static List<MetricRow> metrics(Dataset<Row> records) {
        List<MetricRow> rows = new ArrayList<>();
        for (Row r : counts(records).collectAsList()) {
            long n = r.getAs("n");
            long unparseable = r.getAs("unparseable");
            long successes = r.getAs("successes");
            rows.add(new MetricRow(r.getAs("model"), r.getAs("task"), r.getAs("metric"), r.getAs("category"), n,
                    unparseable, RateInterval.wilson(successes, n - unparseable)));
        }
        // Java string order, as MetricsAggregator's (Spark sorts strings by UTF-8 bytes).
        rows.sort(Comparator.comparing(MetricRow::model).thenComparing(MetricRow::task)
                .thenComparing(MetricRow::metric).thenComparing(MetricRow::category));
        return rows;
    }
}
