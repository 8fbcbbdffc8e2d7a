package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
        Matcher url = Pattern.compile("spark://127\\.0\\.0\\.1:\\d+").matcher(out);
        LocalSparkCluster cluster = new LocalSparkCluster(root, work, url.find() ? url.group() : null);
        if (cluster.masterUrl == null) {
            cluster.close();
            throw new IllegalStateException("bin/local-cluster start printed no master URL:\n" + out);
        }
        return cluster;
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

    /**
     * The pid of the JVM running executor {@code executorId}: a Worker keeps each executor's logs in
     * {@code worker/N/APP/EXECUTOR_ID/}, and Worker N's child process is that JVM.
     */
    public long executorPid(String executorId) {
        try (Stream<Path> dirs = Files.find(workDir.resolve("worker"), 3,
                (p, a) -> a.isDirectory() && p.getFileName().toString().equals(executorId)
                        && p.getParent().getFileName().toString().startsWith("app-"))) {
            Path dir = dirs.findFirst().orElseThrow(() -> new IllegalStateException("no executor " + executorId));
            String worker = dir.getParent().getParent().getFileName().toString();
            long workerPid = Long.parseLong(Files.readString(workDir.resolve("worker-" + worker + ".pid")).strip());
            // One core per Worker: at most one executor of the application runs there at a time.
            return ProcessHandle.of(workerPid).orElseThrow().children()
                    .findFirst().orElseThrow(() -> new IllegalStateException("executor " + executorId + " not running"))
                    .pid();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
