package dev.mergeval.jobs.eval;

import dev.mergeval.eval.PromptRecord;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Per-prompt records as Spark rows: the {@link PromptRecord} fields in snake_case, plus the
 * position of the record in the plan ({@code model_index, task_index, item_index}) so outputs can
 * be ordered the same way whatever the partitioning.
 */
final class RecordRows {

    public static final StructType SCHEMA = DataTypes.createStructType(List.of(
            field("model_index", DataTypes.IntegerType, false),
            field("task_index", DataTypes.IntegerType, false),
            field("item_index", DataTypes.IntegerType, false),
            field("model", DataTypes.StringType, false),
            field("task", DataTypes.StringType, false),
            field("prompt_id", DataTypes.StringType, false),
            field("category", DataTypes.StringType, false),
            field("prompt", DataTypes.StringType, false),
            field("completion", DataTypes.StringType, false),
            field("judge", DataTypes.StringType, true),
            field("refused", DataTypes.BooleanType, true),
            field("harmful", DataTypes.BooleanType, true),
            field("parseable", DataTypes.BooleanType, false),
            field("judge_output", DataTypes.StringType, true),
            field("outcomes", DataTypes.createMapType(DataTypes.StringType, DataTypes.BooleanType, true), false),
            field("prompt_tokens", DataTypes.IntegerType, false),
            field("completion_tokens", DataTypes.IntegerType, false),
            field("latency_ms", DataTypes.DoubleType, false)));

    private RecordRows() {
    }

    private static StructField field(String name, org.apache.spark.sql.types.DataType type, boolean nullable) {
        return DataTypes.createStructField(name, type, nullable);
    }

    public static Row toRow(int modelIndex, int taskIndex, int itemIndex, PromptRecord r) {
        return RowFactory.create(modelIndex, taskIndex, itemIndex, r.model(), r.task(), r.promptId(), r.category(),
                r.prompt(), r.completion(), r.judge(), r.refused(), r.harmful(), r.parseable(), r.judgeOutput(),
                scala.collection.JavaConverters.mapAsScalaMap(new LinkedHashMap<>(r.outcomes())),
                r.promptTokens(), r.completionTokens(), r.latencyMs());
    }

    public static PromptRecord toRecord(Row row) {
        Map<String, Boolean> outcomes = new LinkedHashMap<>();
        scala.collection.Map<String, Boolean> sm = row.getMap(14);
        // Spark does not keep map order; metric names are sorted so records compare equal across runs.
        new java.util.TreeMap<>(scala.collection.JavaConverters.mapAsJavaMap(sm)).forEach(outcomes::put);
        return new PromptRecord(row.getString(3), row.getString(4), row.getString(5), row.getString(6),
                row.getString(7), row.getString(8), row.getString(9), (Boolean) row.get(10), (Boolean) row.get(11),
                row.getBoolean(12), row.getString(13), outcomes, row.getInt(15), row.getInt(16), row.getDouble(17));
    }
}
