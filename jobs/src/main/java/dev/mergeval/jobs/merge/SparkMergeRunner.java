package dev.mergeval.jobs.merge;

import dev.mergeval.common.Progress;
import dev.mergeval.merge.plan.MergeJob;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs a whole merge ({@link MergeJob}) with its units on Spark. Cluster settings come from the
 * usual places only (spark-submit flags, {@code spark-defaults.conf}, {@code --conf}); the job sets
 * its name and, when given, the master.
 */
public final class SparkMergeRunner {

    private SparkMergeRunner() {
    }

    /** True inside spark-submit, which passes the master to the application as a system property. */
    public static boolean underSparkSubmit() {
        return System.getProperty("spark.master") != null;
    }

    /**
     * Plans on this JVM (the driver), executes the units as Spark tasks and commits here.
     *
     * @param master the master URL, or null to take it from spark-submit
     */
    public static MergeJob.Outcome run(MergeJob.Request request, String master, Progress progress) {
        SparkConf conf = new SparkConf().setAppName("mergeval merge");
        if (master != null) {
            conf.setMaster(master);
        }
        if (!underSparkSubmit() && !conf.contains("spark.jars") && !conf.contains("spark.executor.extraClassPath")) {
            // Started as bin/mergeval, not spark-submit: no application jar is shipped. Executors on
            // this machine (local-cluster, bin/local-cluster) read the classes where the driver does.
            conf.set("spark.executor.extraClassPath", System.getProperty("java.class.path"));
        }
        JavaSparkContext sc = new JavaSparkContext(conf);
        try {
            return MergeJob.run(request, new SparkMergeExecutor(sc, progress), sc.hadoopConfiguration());
        } finally {
            sc.stop();
        }
    }
}
