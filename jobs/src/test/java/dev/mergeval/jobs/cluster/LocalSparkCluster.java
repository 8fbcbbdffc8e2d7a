package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;

/**
 * A real Spark standalone cluster on 127.0.0.1 (a Master and N Workers, each its own JVM, executors
 * in JVMs of their own), started and stopped through {@code bin/local-cluster}, the script users
 * run. Ports are picked free, and the work dir is fresh, so builds side by side do not clash.
 */
public final class LocalSparkCluster implements AutoCloseable {

    private final Path root;
    private final Path workDir;
    private final String masterUrl;

    private LocalSparkCluster(Path root, Path workDir, String masterUrl) {
        this.root = root;
        this.workDir = workDir;
        this.masterUrl = masterUrl;
    }

    /** Starts the cluster and returns once all {@code workers} have registered with the Master. */
    public static LocalSparkCluster start(int workers) {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("standalone-");
        String out = ProcessRunner.run(root, 180, List.of(
                root.resolve("bin/local-cluster").toString(), "start",
                "--workers", Integer.toString(workers),
                "--master-port", Integer.toString(FreePort.next()),
                "--webui-port", Integer.toString(FreePort.next()),
                "--work-dir", work.toString()));
        String[] lines = out.strip().split("\n");
        // Maven may leave ANSI colour resets on the line when the script rebuilt the classpath.
        String url = lines[lines.length - 1].replaceAll("\u001B\\[[0-9;]*m", "").strip();
        if (!url.startsWith("spark://")) {
            throw new IllegalStateException("bin/local-cluster start printed no master URL:\n" + out);
        }
        return new LocalSparkCluster(root, work, url);
    }

    public String masterUrl() {
        return masterUrl;
    }

    /**
     * A driver configuration for this cluster: the test JVM is the driver (client mode), and the
     * executors get the test classpath on top of the cluster's Spark jars.
     */
    public SparkConf driverConf(String appName) {
        return SparkTestConf.base(appName)
                .setMaster(masterUrl)
                .set("spark.executor.memory", "1g")
                .set("spark.executor.cores", "1")
                .set("spark.executor.extraClassPath", ProjectLayout.testClasspath());
    }

    /** Process ids of the executor JVMs the Workers have launched so far (their child processes). */
    public List<Long> executorPids() {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> files = Files.list(workDir)) {
            for (Path pidFile : files.filter(f -> f.getFileName().toString().matches("worker-\\d+\\.pid")).toList()) {
                long worker = Long.parseLong(Files.readString(pidFile).strip());
                // A Worker's only child processes are the executors it launched.
                ProcessHandle.of(worker).ifPresent(w -> w.children().forEach(c -> pids.add(c.pid())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return pids;
    }

    public Path workDir() {
        return workDir;
    }

    @Override
    public void close() {
        ProcessRunner.run(root, 120, List.of(
                root.resolve("bin/local-cluster").toString(), "stop", "--work-dir", workDir.toString()));
    }
}
