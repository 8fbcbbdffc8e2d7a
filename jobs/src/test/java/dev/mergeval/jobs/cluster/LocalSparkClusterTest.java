package dev.mergeval.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The standalone cluster of {@code bin/local-cluster}: real executor JVMs that run jobs. */
class LocalSparkClusterTest {

    private static LocalSparkCluster cluster;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        cluster = LocalSparkCluster.start(2);
        sc = new JavaSparkContext(cluster.driverConf("local-cluster-test"));
    }

    @AfterAll
    static void stop() {
        if (sc != null) {
            sc.stop();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void executorsRunInTheirOwnJvmsAndComputeAJob() {
        List<Long> values = LongStream.rangeClosed(1, 1000).boxed().toList();
        long sum = sc.parallelize(values, 4).map(v -> v * v).reduce(Long::sum);
        assertEquals(LongStream.rangeClosed(1, 1000).map(v -> v * v).sum(), sum);

        // One task per worker core; each reports the pid of the JVM that ran it.
        Set<Long> taskPids = new HashSet<>(sc.parallelize(List.of(1, 2, 3, 4, 5, 6, 7, 8), 8)
                .map(i -> ProcessHandle.current().pid()).collect());
        long driverPid = ProcessHandle.current().pid();
        assertFalse(taskPids.contains(driverPid), "a task ran in the driver JVM");
        Set<Long> executorPids = new HashSet<>(cluster.executorPids());
        assertEquals(2, executorPids.size(), "two workers, one executor each: " + executorPids);
        assertTrue(executorPids.containsAll(taskPids),
                "tasks ran in " + taskPids + ", workers' executors are " + executorPids);
    }

    @Test
    void statusReportsTheRunningCluster() {
        String status = ProcessRunner.run(ProjectLayout.root(), 30, List.of(
                ProjectLayout.root().resolve("bin/local-cluster").toString(), "status",
                "--work-dir", cluster.workDir().toString()));
        assertTrue(status.contains("alive workers: 2"), status);
        Set<String> running = status.lines().filter(l -> l.contains("running (pid"))
                .map(l -> l.substring(0, l.indexOf(':'))).collect(Collectors.toSet());
        assertEquals(Set.of("master", "worker-1", "worker-2"), running);
    }
}
