package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.LocalSparkCluster;
import dev.mergeval.jobs.cluster.ProcessRunner;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.merge.plan.LocalMergeExecutor;
import dev.mergeval.merge.plan.MergeJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code mergeval merge} from the shaded application jar under spark-submit
 * ({@code bin/local-cluster submit}, i.e. {@code org.apache.spark.deploy.SparkSubmit} from the
 * cluster's jars) on the local two-worker standalone cluster. Runs after {@code package}
 * (failsafe), when the jar exists.
 */
class SparkSubmitIT {

    private static final Configuration CONF = new Configuration();

    private static LocalSparkCluster cluster;
    private static Path work;
    private static MergeFixtures.Pair pair;

    @BeforeAll
    static void start() {
        cluster = LocalSparkCluster.start(2);
        work = ProjectLayout.scratch("submit-");
        pair = MergeFixtures.write(work.resolve("models").toString(), MergeFixtures.SHAPE, CONF);
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

    private static ProcessRunner.Result submit(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                ProjectLayout.root().resolve("bin/local-cluster").toString(), "submit",
                "--work-dir", cluster.workDir().toString(), "--",
                "--class", MergevalCli.class.getName(), shadedJar().toString()));
        command.addAll(List.of(args));
        return ProcessRunner.runForResult(ProjectLayout.root(), 300, command);
    }

    @Test
    void shadedJarCarriesMergevalButNotSpark() throws Exception {
        try (JarFile jar = new JarFile(shadedJar().toFile())) {
            Set<String> names = jar.stream().map(e -> e.getName()).collect(Collectors.toSet());
            assertTrue(names.contains("dev/mergeval/jobs/cli/MergevalCli.class"));
            assertTrue(names.contains("dev/mergeval/jobs/merge/SparkMergeExecutor.class"));
            assertTrue(names.contains("dev/mergeval/merge/plan/UnitExecutor.class"));
            assertTrue(names.contains("picocli/CommandLine.class"));
            assertFalse(names.stream().anyMatch(n -> n.startsWith("org/apache/spark/")), "Spark is provided");
            assertFalse(names.stream().anyMatch(n -> n.startsWith("org/apache/hadoop/")), "Hadoop is provided");
            assertFalse(names.stream().anyMatch(n -> n.matches("META-INF/[^/]+\\.(SF|RSA|DSA)")), "no stale signatures");
            assertTrue(jar.getManifest().getMainAttributes().getValue("Main-Class").endsWith("MergevalCli"));
        }
    }

    @Test
    void sparkSubmitMergesOnTheClusterWithTheBytesOfTheSingleJvmPath() throws Exception {
        String yaml = MergeFixtures.dareTies(pair);
        Path config = work.resolve("dare.yaml");
        Files.writeString(config, yaml);
        String single = work.resolve("single").toString();
        MergeJob.run(new MergeJob.Request(config.toString(), yaml, single, 0, false, MergeFixtures.OPTIONS),
                new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);

        String out = work.resolve("submitted").toString();
        ProcessRunner.Result r = submit("merge", config.toString(), out,
                "--max-shard-size", Long.toString(MergeFixtures.OPTIONS.maxShardBytes()));
        assertEquals(0, r.exitCode(), r.output());
        assertEquals(MergeFixtures.shardHashes(single, CONF), MergeFixtures.shardHashes(out, CONF));
        String provenance = Files.readString(Path.of(out, OutputPublisher.PROVENANCE_FILE));
        assertTrue(provenance.contains("spark(" + cluster.masterUrl() + ")"), "ran on the cluster: " + provenance);
    }

    @Test
    void badInputUnderSparkSubmitExitsWith2AndOneLine() throws Exception {
        Path config = work.resolve("missing.yaml");
        Files.writeString(config, MergeFixtures.linear(new MergeFixtures.Pair(pair.base(), work + "/no-such-model")));
        ProcessRunner.Result r = submit("merge", config.toString(), work.resolve("never").toString());
        assertEquals(MergevalCli.EXIT_BAD_INPUT, r.exitCode(), r.output());
        List<String> errors = r.output().lines().filter(l -> l.startsWith("mergeval: error:")).toList();
        assertEquals(1, errors.size(), r.output());
        assertTrue(errors.get(0).contains("no-such-model"), errors.get(0));
        assertFalse(Files.exists(work.resolve("never")));
    }
}
