package dev.mergeval.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shaded application jar under spark-submit ({@code bin/local-cluster submit}, i.e.
 * {@code org.apache.spark.deploy.SparkSubmit} from the cluster's jars) against the local
 * standalone cluster. Runs after {@code package} (failsafe), when the jar exists.
 */
class SparkSubmitIT {

    private static LocalSparkCluster cluster;

    @BeforeAll
    static void start() {
        cluster = LocalSparkCluster.start(1);
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    static Path shadedJar() throws Exception {
        try (Stream<Path> files = Files.list(ProjectLayout.root().resolve("jobs/target"))) {
            return files.filter(f -> f.getFileName().toString().matches("mergeval-jobs-.*-spark\\.jar"))
                    .findFirst().orElseThrow(() -> new IllegalStateException("no shaded jar; run mvn package"));
        }
    }

    @Test
    void shadedJarCarriesMergevalButNotSpark() throws Exception {
        try (JarFile jar = new JarFile(shadedJar().toFile())) {
            Set<String> names = jar.stream().map(e -> e.getName()).collect(Collectors.toSet());
            assertTrue(names.contains("dev/mergeval/jobs/cli/MergevalCli.class"));
            assertTrue(names.contains("dev/mergeval/common/BadInputException.class"));
            assertTrue(names.contains("picocli/CommandLine.class"));
            assertFalse(names.stream().anyMatch(n -> n.startsWith("org/apache/spark/")), "Spark is provided");
            assertFalse(names.stream().anyMatch(n -> n.startsWith("org/apache/hadoop/")), "Hadoop is provided");
            assertFalse(names.stream().anyMatch(n -> n.matches("META-INF/[^/]+\\.(SF|RSA|DSA)")), "no stale signatures");
            assertTrue(jar.getManifest().getMainAttributes().getValue("Main-Class").endsWith("MergevalCli"));
        }
    }

    @Test
    void sparkSubmitRunsTheCli() throws Exception {
        Path root = ProjectLayout.root();
        String out = ProcessRunner.run(root, 180, List.of(
                root.resolve("bin/local-cluster").toString(), "submit", "--work-dir", cluster.workDir().toString(),
                "--", "--class", "dev.mergeval.jobs.cli.MergevalCli", shadedJar().toString(), "--help"));
        assertTrue(out.contains("Usage: mergeval"), out);
    }
}
