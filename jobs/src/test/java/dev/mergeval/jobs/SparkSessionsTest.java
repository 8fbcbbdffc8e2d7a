package dev.mergeval.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Hadoop settings commands check their inputs and outputs with before any Spark session exists. */
class SparkSessionsTest {

    private static final String KEY = "mergeval.test.endpoint";

    @AfterEach
    void clear() {
        System.clearProperty("spark.hadoop." + KEY);
        System.clearProperty("spark.hadoopish." + KEY);
    }

    @Test
    void systemSparkHadoopKeysAreTheOnesANewSparkConfWouldGive() {
        System.setProperty("spark.hadoop." + KEY, "http://127.0.0.1:9000");
        System.setProperty("spark.hadoopish." + KEY, "not a hadoop key");

        Configuration withoutSpark = SparkSessions.hadoopConfiguration();
        Configuration viaSparkConf = SparkSessions.hadoopConfiguration(new SparkConf());

        assertEquals("http://127.0.0.1:9000", withoutSpark.get(KEY));
        assertEquals(viaSparkConf.get(KEY), withoutSpark.get(KEY));
        assertNull(withoutSpark.get("ish." + KEY));
        assertNull(withoutSpark.get("spark.hadoop." + KEY));
    }
}
