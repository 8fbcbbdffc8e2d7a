package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.util.MutableURLClassLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The eval job's results DataFrames are GPU-eligible for Spark RAPIDS: RAPIDS' explain API
 * ({@code ExplainPlan.explainPotentialGpuPlan(df, "ALL")}, which needs no GPU and no plugin) reports
 * every operator of the metrics aggregation as able to run on the GPU, while a Java UDF, the
 * control, is reported as {@code cannot run on GPU}. Runs only with {@code mvn -Prapids}, which
 * copies the RAPIDS jar to {@code jobs/target/rapids} and names it in {@code mergeval.rapids.jar}.
 */
class RapidsGpuEligibilityTest {

    private static final String CANNOT = "cannot run on GPU";

    private static SparkSession spark;

    @TempDir
    Path dir;

    private static boolean rapidsJarPresent() {
        String jar = System.getProperty("mergeval.rapids.jar");
        return jar != null && Files.isRegularFile(Path.of(jar));
    }

    @BeforeAll
    static void start() {
        if (rapidsJarPresent()) {
            spark = RecordMetricsTest.localSession("RapidsGpuEligibilityTest");
        }
    }

    @BeforeEach
    void needsRapids() {
        assumeTrue(rapidsJarPresent(), "skipped: no RAPIDS jar; run with the rapids profile: "
                + "mvn -B -Prapids -pl jobs -am test -Dtest=RapidsGpuEligibilityTest -Dsurefire.failIfNoSpecifiedTests=false");
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    /**
     * The RAPIDS plan explanation of {@code df}. RAPIDS' ShimLoader only works from a
     * URLClassLoader, so its jar is loaded through Spark's own MutableURLClassLoader (as
     * {@code --jars} would), set as the thread context class loader for the call.
     */
    private static String explainGpu(Dataset<Row> df) throws Exception {
        URL jar = Path.of(System.getProperty("mergeval.rapids.jar")).toUri().toURL();
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        MutableURLClassLoader loader = new MutableURLClassLoader(new URL[] {jar}, RapidsGpuEligibilityTest.class.getClassLoader());
        thread.setContextClassLoader(loader);
        try {
            Method explain = Class.forName("com.nvidia.spark.rapids.ExplainPlan", true, loader)
                    .getMethod("explainPotentialGpuPlan", Dataset.class, String.class);
            return (String) explain.invoke(null, df, "ALL");
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } finally {
            thread.setContextClassLoader(previous);
        }
    }

    /** The records as the job writes them ({@code records.parquet}), read back. */
    private Dataset<Row> writtenRecords() {
        String path = dir.resolve(EvalJob.PARQUET).toString();
        RecordMetricsTest.frame(spark, RecordMetricsTest.records()).write().parquet(path);
        return spark.read().parquet(path);
    }

    @Test
    void metricsAggregationStagesCanRunOnGpu() throws Exception {
        String plan = explainGpu(RecordMetrics.counts(writtenRecords()));
        List<String> cannot = plan.lines().filter(l -> l.contains(CANNOT)).toList();
        assertTrue(cannot.isEmpty(), "operators that fall back to the CPU:\n" + String.join("\n", cannot));
        for (String op : List.of("HashAggregateExec", "GenerateExec", "ShuffleExchangeExec")) {
            assertTrue(plan.lines().anyMatch(l -> l.contains(op) && l.contains("will run on GPU")),
                    op + " not reported as running on the GPU:\n" + plan);
        }
    }

    @Test
    void aJavaUdfIsReportedAsCpuOnly() throws Exception {
        UserDefinedFunction shout = functions.udf((UDF1<String, String>) s -> s.toUpperCase(), DataTypes.StringType);
        Dataset<Row> records = writtenRecords();
        String plan = explainGpu(records.groupBy(shout.apply(functions.col("task")).as("task")).count());
        assertTrue(plan.lines().anyMatch(l -> l.contains("ScalaUDF") && l.contains(CANNOT)),
                "a Java UDF should not be GPU-eligible:\n" + plan);
        assertFalse(explainGpu(RecordMetrics.counts(records)).contains(CANNOT));
    }

    /**
     * In the job the records DataFrame is built from the executors' RDD of rows: only that scan
     * ({@code RDDScanExec}, row-based) falls back to the CPU; the aggregation above it is GPU-eligible.
     */
    @Test
    void inTheJobOnlyTheScanOfTheRecordRddIsCpuOnly() throws Exception {
        Dataset<Row> fromRows = RecordMetricsTest.frame(spark, RecordMetricsTest.records());
        Dataset<Row> inJob = spark.createDataFrame(fromRows.javaRDD(), RecordRows.SCHEMA);
        String plan = explainGpu(RecordMetrics.counts(inJob));
        List<String> cannot = plan.lines().filter(l -> l.contains(CANNOT)).toList();
        assertFalse(cannot.isEmpty(), "the scan of an RDD of rows is row-based:\n" + plan);
        assertTrue(cannot.stream().allMatch(l -> l.contains("RDDScanExec")),
                "operators other than the RDD scan fall back to the CPU:\n" + plan);
    }
}
