package dev.mergeval.jobs.merge;

import dev.mergeval.common.Progress;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.merge.plan.MergeJob;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Runs a whole merge ({@link MergeJob}) with its units on Spark: plan on this JVM (the driver),
 * units as Spark tasks, commit here. Cluster settings come from the usual places only
 * ({@link SparkSessions}).
 */
public final class SparkMergeRunner {

    private SparkMergeRunner() {
    }

    /** @param master the master URL, or null to take it from spark-submit or spark-defaults.conf */
    public static MergeJob.Outcome run(MergeJob.Request request, String master, Progress progress) {
        SparkSession spark = SparkSessions.create("mergeval merge", master);
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            return MergeJob.run(request, new SparkMergeExecutor(sc, progress), sc.hadoopConfiguration());
        } finally {
            spark.stop();
        }
    }
}
