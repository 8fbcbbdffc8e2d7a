package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cluster.LocalSparkCluster;
import dev.mergeval.jobs.cluster.MiniHdfs;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.S3MockServer;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The distributed merge on a real two-worker standalone cluster (executors in their own JVMs),
 * with inputs and outputs on local disk, on S3 (S3Mock in its own JVM, through S3A) and on HDFS
 * (MiniDFSCluster); an executor JVM killed mid-merge; a corrupt shard.
 */
class SparkMergeClusterTest {

    /** Units big enough (about 1.5 M elements each) that a task is still running when its JVM is killed. */
    private static final SyntheticModels.Shape LARGER = new SyntheticModels.Shape(3, 512, 1024, 8, 4, 2048);

    private static LocalSparkCluster cluster;
    private static S3MockServer s3;
    private static MiniHdfs hdfs;
    private static JavaSparkContext sc;
    private static Configuration conf;
    private static SparkMergeExecutor spark;
    private static Path work;
    private static MergeFixtures.Pair localPair;
    private static final Map<String, Map<String, String>> REFERENCE = new HashMap<>();

    @BeforeAll
    static void start() {
        cluster = LocalSparkCluster.start(2);
        s3 = S3MockServer.start("models");
        hdfs = MiniHdfs.start(1);
        SparkConf sparkConf = cluster.driverConf("merge-cluster-test").set("spark.task.maxFailures", "4");
        s3.s3aSettings().forEach((k, v) -> sparkConf.set("spark.hadoop." + k, v));
        sc = new JavaSparkContext(sparkConf);
        // The driver's Hadoop configuration is the one the executor broadcasts.
        conf = sc.hadoopConfiguration();
        spark = new SparkMergeExecutor(sc, Progress.NONE);
        work = ProjectLayout.scratch("merge-cluster-");
    }

    @AfterAll
    static void stop() {
        if (sc != null) {
            sc.stop();
        }
        closeCachedFileSystems();
        for (AutoCloseable c : new AutoCloseable[] {hdfs, s3, cluster}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * Closes the driver's cached Hadoop clients while their servers still run; at JVM exit they
     * would otherwise retry against a stopped NameNode and S3 endpoint and stall the shutdown.
     */
    static void closeCachedFileSystems() {
        try {
            org.apache.hadoop.fs.FileSystem.closeAll();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Map<String, String> singleJvm(String yaml, String out) {
        MergeJob.run(MergeFixtures.request(yaml, out), new LocalMergeExecutor(2, conf, Progress.NONE), conf);
        return MergeFixtures.shardHashes(out, conf);
    }

    private static Map<String, String> onCluster(MergeJob.Request request) {
        MergeJob.run(request, spark, conf);
        return MergeFixtures.shardHashes(request.outDir(), conf);
    }

    /**
     * Shard hashes of the single-JVM path on local disk, per method. Shards carry no input paths,
     * so the same models on S3 or HDFS must merge to the same bytes.
     */
    private static synchronized Map<String, String> reference(String method) {
        return REFERENCE.computeIfAbsent(method, m -> {
            MergeFixtures.Pair pair = localPair();
            Map<String, String> hashes = singleJvm(MergeFixtures.yaml(m, pair), work.resolve("single-" + m).toString());
            assertTrue(hashes.size() >= 2, "several output shards: " + hashes);
            return hashes;
        });
    }

    private static synchronized MergeFixtures.Pair localPair() {
        if (localPair == null) {
            localPair = MergeFixtures.write(work.resolve("local").toString(), MergeFixtures.SHAPE, conf);
        }
        return localPair;
    }

    @Test
    void twoWorkersWriteTheSameShardsAsTheSingleJvmPath() {
        for (String method : MergeFixtures.METHODS) {
            String out = work.resolve("cluster-" + method).toString();
            assertEquals(reference(method), onCluster(MergeFixtures.request(MergeFixtures.yaml(method, localPair()), out)),
                    method);
        }
    }

    /**
     * Safe LoRA's analysis runs as tasks in the workers' JVMs ({@link SparkAnalysisRunner}), one per
     * target matrix, each opening the inputs there: the plan (whose id covers every cosine and
     * decision) and the bytes are the single JVM's.
     */
    @Test
    void safeLoraAnalysisRunsOnTheWorkersAndGivesTheSingleJvmPlan() {
        MergeFixtures.Pair pair = localPair();
        String unaligned = work.resolve("unaligned").toString();
        SyntheticModels.writeFineTune(unaligned, MergeFixtures.SHAPE, DType.BF16, 7, 9, 0.02, 96 << 10, conf);
        String yaml = """
                merge_method: safe_lora
                base_model: %s
                models:
                  - model: %s
                parameters:
                  unaligned_model: %s
                  num_proj_layers: 5
                """.formatted(pair.base(), pair.tune(), unaligned);
        String single = work.resolve("safe-lora-single").toString();
        MergeJob.Outcome local = MergeJob.run(MergeFixtures.request(yaml, single),
                new LocalMergeExecutor(2, conf, Progress.NONE), conf);
        List<String> jobs = new CopyOnWriteArrayList<>();
        AtomicInteger analysisTasks = new AtomicInteger();
        SparkListener watch = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart start) {
                jobs.add(String.valueOf(start.properties().getProperty("spark.job.description")));
                if (jobs.get(jobs.size() - 1).contains("safe_lora analysis")) {
                    scala.collection.JavaConverters.seqAsJavaList(start.stageInfos())
                            .forEach(stage -> analysisTasks.addAndGet(stage.numTasks()));
                }
            }
        };
        sc.sc().addSparkListener(watch);
        MergeJob.Outcome remote;
        try {
            remote = MergeJob.run(MergeFixtures.request(yaml, work.resolve("safe-lora-cluster").toString()), spark, conf);
            TaskFailures.drain(sc);
        } finally {
            sc.sc().removeSparkListener(watch);
        }
        assertEquals(7 * MergeFixtures.SHAPE.layers(), analysisTasks.get(), "a task per target matrix: " + jobs);
        assertEquals(local.plan().planId(), remote.plan().planId());
        assertEquals(MergeFixtures.shardHashes(single, conf), MergeFixtures.shardHashes(remote.outDir(), conf));
    }

    @Test
    void s3aInputsAndOutputs() {
        MergeFixtures.Pair pair = MergeFixtures.write("s3a://models/pair", MergeFixtures.SHAPE, conf);
        // Coarser units than on local disk: fewer requests to S3Mock, and the bytes must not change.
        MergeJob.Request request = new MergeJob.Request("test.yaml", MergeFixtures.yaml("linear", pair),
                "s3a://models/merged", 42, false, MergeFixtures.OPTIONS.withMaxUnitBytes(256 << 10));
        assertEquals(reference("linear"), onCluster(request));
        assertTrue(MergeFixtures.exists("s3a://models/merged/config.json", conf));
    }

    /**
     * DARE's masks are keyed by the model references (here hdfs:// URIs), so the reference is the
     * single-JVM path on the same inputs, with the finer units of the local runs.
     */
    @Test
    void hdfsInputsAndOutputs() {
        MergeFixtures.Pair pair = MergeFixtures.write(hdfs.uri() + "/models/pair", MergeFixtures.SHAPE, conf);
        String yaml = MergeFixtures.yaml("dare_ties", pair);
        Map<String, String> expected = singleJvm(yaml, hdfs.uri() + "/merged/single");
        MergeJob.Request request = new MergeJob.Request("test.yaml", yaml, hdfs.uri() + "/merged/cluster", 42, false,
                MergeFixtures.OPTIONS.withMaxUnitBytes(256 << 10));
        assertEquals(expected, onCluster(request));
    }

    @Test
    void anExecutorKilledMidMergeIsRetriedAndTheOutputIsUnchanged() {
        MergeFixtures.Pair pair = MergeFixtures.write(work.resolve("larger").toString(), LARGER, conf);
        String yaml = MergeFixtures.dareTies(pair);
        Map<String, String> expected = singleJvm(yaml, work.resolve("larger-single").toString());

        // SIGKILL the JVM of the executor that starts the third task, while that task runs.
        AtomicInteger started = new AtomicInteger();
        AtomicLong killed = new AtomicLong();
        SparkListener killer = new SparkListener() {
            @Override
            public void onTaskStart(SparkListenerTaskStart start) {
                if (started.incrementAndGet() == 3) {
                    long pid = cluster.executorPid(start.taskInfo().executorId());
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                    killed.set(pid);
                }
            }
        };
        TaskFailures failures = new TaskFailures();
        sc.sc().addSparkListener(killer);
        sc.sc().addSparkListener(failures);
        try {
            assertEquals(expected, onCluster(MergeFixtures.request(yaml, work.resolve("larger-cluster").toString())));
        } finally {
            TaskFailures.drain(sc);
            sc.sc().removeSparkListener(killer);
            sc.sc().removeSparkListener(failures);
        }
        assertTrue(killed.get() > 0, "an executor was killed");
        assertFalse(ProcessHandle.of(killed.get()).map(ProcessHandle::isAlive).orElse(false));
        assertTrue(failures.executorLost.get() >= 1, "a running task was lost with its executor and retried");
    }

    @Test
    void corruptShardFailsTheJobAtOnceAndPublishesNothing() throws Exception {
        MergeFixtures.Pair pair = MergeFixtures.write(work.resolve("corrupt").toString(), MergeFixtures.SHAPE, conf);
        Path shard;
        try (Stream<Path> files = Files.list(Path.of(pair.base()))) {
            shard = files.filter(f -> f.toString().endsWith(".safetensors")).sorted().findFirst().orElseThrow();
        }
        String out = work.resolve("corrupt-out").toString();
        TaskFailures failures = new TaskFailures();
        sc.sc().addSparkListener(failures);
        try {
            BadInputException e = assertThrows(BadInputException.class, () -> MergeJob.run(
                    MergeFixtures.request(MergeFixtures.linear(pair), out), new CorruptAfterPlanning(spark, shard), conf));
            assertTrue(e.getMessage().contains(shard.getFileName().toString()), e.getMessage());
        } finally {
            TaskFailures.drain(sc);
            sc.sc().removeSparkListener(failures);
        }
        assertTrue(failures.maxAttemptsFailedOnOnePartition() < 4,
                "aborted before Spark's 4 attempts ran out: " + failures.exceptionFailuresByPartition);
        assertFalse(MergeFixtures.exists(out, conf), "nothing published at " + out);
    }
}
