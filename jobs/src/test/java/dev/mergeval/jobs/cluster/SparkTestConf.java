package dev.mergeval.jobs.cluster;

import org.apache.spark.SparkConf;

/** Spark settings every test driver shares: loopback only, no UI, quick failure on bad tasks. */
public final class SparkTestConf {

    private SparkTestConf() {
    }

    public static SparkConf base(String appName) {
        return new SparkConf()
                .setAppName(appName)
                .set("spark.ui.enabled", "false")
                .set("spark.driver.host", "127.0.0.1")
                .set("spark.driver.bindAddress", "127.0.0.1")
                .set("spark.sql.shuffle.partitions", "2")
                .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true");
    }

    /** An in-JVM {@code local[threads]} driver. */
    public static SparkConf local(String appName, int threads) {
        return base(appName).setMaster("local[" + threads + "]");
    }
}
