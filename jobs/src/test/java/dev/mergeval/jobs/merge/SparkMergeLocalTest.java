package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Spark executor in local mode against the single-JVM path: same bytes, same errors. */
class SparkMergeLocalTest {

    private static final Configuration CONF = new Configuration();
    private static Path work;
    private static MergeFixtures.Pair pair;

    @BeforeAll
    static void writeModels() {
        work = ProjectLayout.scratch("merge-local-");
        pair = MergeFixtures.write(work.resolve("models").toString(), MergeFixtures.SHAPE, CONF);
    }

    @Test
    void local1AndLocal2WriteTheSameShardsAsTheSingleJvmPath() {
        Map<String, Map<String, String>> reference = new LinkedHashMap<>();
        for (String method : MergeFixtures.METHODS) {
            String out = work.resolve("single-" + method).toString();
            MergeJob.run(MergeFixtures.request(MergeFixtures.yaml(method, pair), out),
                    new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
            reference.put(method, MergeFixtures.shardHashes(out, CONF));
            assertTrue(reference.get(method).size() >= 2, "several output shards: " + reference.get(method));
        }
        for (String master : List.of("local[1]", "local[2]")) {
            JavaSparkContext sc = new JavaSparkContext(SparkTestConf.base("merge " + master).setMaster(master));
            try {
                SparkMergeExecutor spark = new SparkMergeExecutor(sc, Progress.NONE);
                for (String method : MergeFixtures.METHODS) {
                    String out = work.resolve(master.replaceAll("\\W", "") + "-" + method).toString();
                    MergeJob.Outcome outcome = MergeJob.run(MergeFixtures.request(MergeFixtures.yaml(method, pair), out),
                            spark, CONF);
                    assertTrue(outcome.plan().units().size() >= 10, "enough units to spread");
                    assertEquals(reference.get(method), MergeFixtures.shardHashes(out, CONF), method + " on " + master);
                }
            } finally {
                sc.stop();
            }
        }
    }

    /**
     * A cluster whose defaults name Kryo: the plan, a Java record, failed
     * to broadcast ("can't get field offset on a record class", exit 1). The session serializes
     * with Java serialization instead, and the merge writes the same bytes.
     */
    @Test
    void aClusterDefaultOfKryoStillMerges() throws Exception {
        System.setProperty("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
        try {
            cliOnSparkAsInOneJvm("kryo", MergeFixtures.ties(pair));
        } finally {
            System.clearProperty("spark.serializer");
        }
    }

    @Test
    void mergeCommandWithMasterRunsOnSpark() throws Exception {
        String spark = cliOnSparkAsInOneJvm("cli", MergeFixtures.linear(pair));
        String provenance = Files.readString(Path.of(spark, OutputPublisher.PROVENANCE_FILE));
        assertTrue(provenance.contains("spark(local[2])"), provenance);
    }

    /**
     * {@code mergeval merge} of {@code yaml} on one thread without Spark, then on {@code local[2]}
     * (under this JVM's {@code spark.*} settings): both exit 0 with the same shards. Returns the
     * Spark run's output.
     */
    private static String cliOnSparkAsInOneJvm(String name, String yaml) throws Exception {
        Path config = work.resolve(name + ".yaml");
        Files.writeString(config, yaml);
        String single = work.resolve(name + "-single").toString();
        String spark = work.resolve(name + "-spark").toString();
        String shard = Long.toString(MergeFixtures.OPTIONS.maxShardBytes());
        assertEquals(0, MergevalCli.run("merge", config.toString(), single, "--threads", "1", "--max-shard-size", shard));
        assertEquals(0, MergevalCli.run("merge", config.toString(), spark, "--master", "local[2]", "--max-shard-size",
                shard));
        assertEquals(MergeFixtures.shardHashes(single, CONF), MergeFixtures.shardHashes(spark, CONF));
        return spark;
    }

    @Test
    void corruptShardFailsTheJobAtOnceAndPublishesNothing() throws Exception {
        Path models = work.resolve("corrupt");
        MergeFixtures.Pair broken = MergeFixtures.write(models.toString(), MergeFixtures.SHAPE, CONF);
        Path shard;
        try (Stream<Path> files = Files.list(Path.of(broken.tune()))) {
            shard = files.filter(f -> f.toString().endsWith(".safetensors")).sorted().findFirst().orElseThrow();
        }
        String out = work.resolve("corrupt-out").toString();
        // local[2,4]: up to 4 attempts per task, as on a cluster; bad input must not use them.
        JavaSparkContext sc = new JavaSparkContext(SparkTestConf.base("corrupt").setMaster("local[2,4]"));
        TaskFailures failures = new TaskFailures();
        sc.sc().addSparkListener(failures);
        try {
            CorruptAfterPlanning executor = new CorruptAfterPlanning(new SparkMergeExecutor(sc, Progress.NONE), shard);
            BadInputException e = assertThrows(BadInputException.class,
                    () -> MergeJob.run(MergeFixtures.request(MergeFixtures.linear(broken), out), executor, CONF));
            assertTrue(e.getMessage().contains(shard.getFileName().toString()), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        } finally {
            sc.stop();
        }
        assertTrue(failures.maxAttemptsFailedOnOnePartition() < 4,
                "aborted before Spark's retries ran out: " + failures.exceptionFailuresByPartition);
        assertFalse(MergeFixtures.exists(out, CONF), "nothing published at " + out);
    }
}
