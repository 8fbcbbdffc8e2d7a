package dev.mergeval.jobs.sweep;

import dev.mergeval.jobs.ParquetDirs;
import dev.mergeval.sweep.Metric;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * {@code results.parquet}: one row per point and metric (long format, so any suite's metrics fit
 * one schema), with the point's method, ratio and parameters; points in the {@link SweepTable}'s
 * order, each point's metrics by name. One part file, named without Spark's job id
 * ({@link ParquetDirs}), so the same results give the same bytes.
 */
final class ResultsParquet {

    static final String DIR = "results.parquet";

    static final StructType SCHEMA = new StructType()
            .add("point_id", DataTypes.StringType, false)
            .add("role", DataTypes.StringType, false)
            .add("method", DataTypes.StringType, true)
            .add("variant", DataTypes.StringType, false)
            .add("finetuned", DataTypes.StringType, true)
            .add("ratio", DataTypes.DoubleType, true)
            .add("parameters", DataTypes.StringType, false)
            .add("metric", DataTypes.StringType, false)
            .add("value", DataTypes.DoubleType, true)
            .add("low", DataTypes.DoubleType, true)
            .add("high", DataTypes.DoubleType, true)
            .add("n", DataTypes.LongType, false)
            .add("unparseable", DataTypes.LongType, false);

    private ResultsParquet() {
    }

    static void write(SparkSession spark, String dir, SweepTable table) {
        List<Row> rows = new ArrayList<>();
        for (SweepTable.Row r : table.rows()) {
            SweepPoint p = r.point();
            for (Map.Entry<String, Metric> e : r.metrics().entrySet()) {
                Metric m = e.getValue();
                rows.add(RowFactory.create(p.id(), p.role().json(), p.method(), p.variant(), p.finetuned(),
                        p.isMerge() ? p.ratio() : null, String.valueOf(p.parameters()), e.getKey(),
                        m.value(), m.low(), m.high(), m.n(), m.unparseable()));
            }
        }
        spark.createDataFrame(rows, SCHEMA).coalesce(1).write().mode(SaveMode.Overwrite).parquet(dir);
        ParquetDirs.normalize(dir, spark.sparkContext().hadoopConfiguration());
    }
}
