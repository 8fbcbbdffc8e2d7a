package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;

/**
 * A real S3-protocol server on loopback: Adobe S3Mock 3.12.0 in a JVM of its own (its Spring Boot,
 * Jackson and logging cannot share Spark's JVM). Its classpath comes from the small pom in
 * {@code jobs/src/test/s3mock}, resolved once per build into {@code jobs/target}.
 */
public final class S3MockServer implements AutoCloseable {

    /** Test-only credentials; S3Mock accepts any, the point is that S3A signs real requests. */
    private static final String ACCESS_KEY = "mergeval-test-access";
    private static final String SECRET_KEY = "mergeval-test-secret";

    private final Process process;
    private final int port;
    private final Path log;

    private S3MockServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts S3Mock with {@code buckets} created, and returns once it answers HTTP. */
    public static S3MockServer start(String... buckets) {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("s3mock-");
        int port = FreePort.next();
        Path log = work.resolve("s3mock.log");
        try {
            Process p = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx384m", "-cp", classpath(root), "com.adobe.testing.s3mock.S3MockApplication",
                    "--com.adobe.testing.s3mock.http-port=" + port,
                    // server.port is S3Mock's HTTPS port; a free one, so parallel builds do not clash.
                    "--server.port=" + FreePort.next(),
                    "--com.adobe.testing.s3mock.domain.initial-buckets=" + String.join(",", buckets),
                    "--com.adobe.testing.s3mock.domain.root=" + work.resolve("data"))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            S3MockServer server = new S3MockServer(p, port, log);
            server.awaitReady();
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String classpath(Path root) {
        Path pom = root.resolve("jobs/src/test/s3mock/pom.xml");
        Path cpFile = root.resolve("jobs/target/s3mock-classpath.txt");
        try {
            if (!Files.exists(cpFile) || Files.getLastModifiedTime(cpFile).compareTo(Files.getLastModifiedTime(pom)) < 0) {
                ProcessRunner.run(root, 300, List.of("mvn", "-B", "-q", "-ntp", "-f", pom.toString(),
                        "dependency:build-classpath", "-Dmdep.outputFile=" + cpFile));
            }
            return Files.readString(cpFile).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("S3Mock exited at start; see " + log);
            }
            try {
                HttpURLConnection c = (HttpURLConnection) URI.create(endpoint() + "/").toURL().openConnection();
                c.setConnectTimeout(500);
                c.setReadTimeout(2000);
                if (c.getResponseCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // Not listening yet.
            }
            sleep(250);
        }
        close();
        throw new IllegalStateException("S3Mock not ready within 90 s; see " + log);
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** The S3A settings for this server, as Spark's {@code spark.hadoop.*} keys would carry them. */
    public Map<String, String> s3aSettings() {
        return Map.of(
                "fs.s3a.endpoint", endpoint(),
                "fs.s3a.endpoint.region", "us-east-1",
                "fs.s3a.path.style.access", "true",
                "fs.s3a.connection.ssl.enabled", "false",
                // S3Mock serves no version ids; ETags it does.
                "fs.s3a.change.detection.mode", "client",
                "fs.s3a.experimental.input.fadvise", "random",
                "fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
                "fs.s3a.access.key", ACCESS_KEY,
                "fs.s3a.secret.key", SECRET_KEY);
    }

    public Configuration s3aConf() {
        Configuration conf = new Configuration();
        s3aSettings().forEach(conf::set);
        return conf;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
