package dev.mergeval.jobs;

import dev.mergeval.common.BadInputException;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.slf4j.LoggerFactory;

/**
 * The one way jobs get a Spark session: settings come from spark-submit and spark-defaults.conf
 * as usual; {@code --master} is a convenience, and with no master anywhere the job runs on
 * {@code local[*]}. A local master ({@code local[...]}, {@code local-cluster[...]}) binds the driver to
 * 127.0.0.1 unless {@code spark.driver.host} is set.
 *
 * <p>The session serializes with Java serialization whatever {@code spark.serializer} a cluster's
 * defaults name: the jobs pass Java records (plans, work units, results) and immutable collections
 * through broadcasts and task results, which Kryo (4, as Spark 3.5 ships it) cannot serialize (a
 * merge failed with "can't get field offset on a record class"). The jobs move their bulk data
 * through files, not shuffles, so nothing they do is slower for it.
 */
public final class SparkSessions {

    private static final String HADOOP_PREFIX = "spark.hadoop.";
    private static final String SERIALIZER = "spark.serializer";
    private static final String JAVA_SERIALIZER = "org.apache.spark.serializer.JavaSerializer";

    private SparkSessions() {
    }

    /** True inside spark-submit, which passes the master to the application as a system property. */
    public static boolean underSparkSubmit() {
        return System.getProperty("spark.master") != null;
    }

    public static SparkSession create(String appName, String master) {
        SparkConf conf = new SparkConf();
        SparkSession.Builder builder = SparkSession.builder().appName(appName);
        if (master != null) {
            builder.master(master);
        } else if (!conf.contains("spark.master")) {
            builder.master("local[*]");
        }
        String resolved = master != null ? master : conf.get("spark.master", "local[*]");
        if (resolved.startsWith("local") && !conf.contains("spark.driver.host")) {
            // Everything runs on this machine: bind to loopback, not whatever the hostname resolves to.
            builder.config("spark.driver.host", "127.0.0.1");
            if (!conf.contains("spark.driver.bindAddress")) {
                builder.config("spark.driver.bindAddress", "127.0.0.1");
            }
        }
        if (!underSparkSubmit() && !conf.contains("spark.jars") && !conf.contains("spark.executor.extraClassPath")) {
            // Started as bin/mergeval, not spark-submit: no application jar is shipped. Executors on
            // this machine (local-cluster, bin/local-cluster) read the classes where the driver does.
            builder.config("spark.executor.extraClassPath", System.getProperty("java.class.path"));
        }
        String serializer = conf.get(SERIALIZER, JAVA_SERIALIZER);
        if (!serializer.equals(JAVA_SERIALIZER)) {
            LoggerFactory.getLogger(SparkSessions.class).warn("{}={} is replaced by {} for {}: its plans and results"
                    + " are Java records, which Kryo cannot serialize", SERIALIZER, serializer, JAVA_SERIALIZER, appName);
        }
        builder.config(SERIALIZER, JAVA_SERIALIZER);
        try {
            return builder.getOrCreate();
        } catch (Exception e) {
            // Scala's checked SparkException, undeclared: a mistyped --master is the user's.
            if (String.valueOf(e.getMessage()).startsWith("Could not parse Master URL")) {
                throw notAMaster((master != null ? "--master " : "spark.master ") + resolved, e);
            }
            throw e;
        }
    }

    /** The forms of master URL Spark's scheduler parses (SparkContext.createTaskScheduler) and its cluster managers take. */
    private static final Pattern MASTER = Pattern.compile("local|local\\[([0-9]+|\\*)(\\s*,\\s*[0-9]+)?]"
            + "|local-cluster\\[\\s*[0-9]+\\s*,\\s*[0-9]+\\s*,\\s*[0-9]+\\s*]|spark://.+|yarn|k8s://.+|mesos://.+");

    /**
     * Refuses a master URL Spark would refuse, without starting Spark: for commands that start
     * sessions only after other work ({@code bench merge --spark-masters}).
     *
     * @param option the option, for the message
     */
    public static void checkMaster(String option, String master) {
        if (!MASTER.matcher(master).matches()) {
            throw notAMaster(option + " " + master, null);
        }
    }

    private static BadInputException notAMaster(String given, Exception cause) {
        return new BadInputException(given
                + ": not a Spark master URL (local[N], local-cluster[N,C,M], spark://HOST:PORT, yarn, k8s://URL)", cause);
    }

    /**
     * The Hadoop settings a session made from {@code conf} would have: Hadoop's defaults plus every
     * {@code spark.hadoop.*} key. Commands check their outputs with it before any session starts,
     * and executors load models with it, so {@code spark.hadoop.fs.s3a.*} settings apply everywhere.
     */
    public static Configuration hadoopConfiguration(SparkConf conf) {
        Configuration hadoop = new Configuration();
        for (scala.Tuple2<String, String> kv : conf.getAllWithPrefix(HADOOP_PREFIX)) {
            hadoop.set(kv._1(), kv._2());
        }
        return hadoop;
    }

    /**
     * {@link #hadoopConfiguration(SparkConf)} of this JVM's Spark settings (spark-submit's, system
     * properties). A new {@code SparkConf} reads exactly the {@code spark.*} system properties; reading
     * them here keeps Spark and Scala unloaded in commands that never start a session (a plain merge).
     */
    public static Configuration hadoopConfiguration() {
        Configuration hadoop = new Configuration();
        Properties system = System.getProperties();
        for (String key : system.stringPropertyNames()) {
            if (key.startsWith(HADOOP_PREFIX)) {
                hadoop.set(key.substring(HADOOP_PREFIX.length()), system.getProperty(key));
            }
        }
        return hadoop;
    }
}
