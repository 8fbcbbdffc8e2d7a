package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.jobs.cluster.MiniHdfs;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.S3MockServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/mergeval merge} as a user runs it, in a process of its own. Without {@code --master}
 * the launcher starts the JVM on the build's merge class path, which holds no Spark jar; that JVM
 * must still read HDFS and write S3 (with the {@code spark.hadoop.*} settings a user passes in
 * {@code MERGEVAL_JAVA_OPTS}), and write the bytes the Spark path (whole class path) writes.
 */
class MergeLauncherTest {

    private static final Configuration LOCAL = new Configuration();

    @Test
    void aMergeWithoutMasterRunsWithoutSparkAndWritesTheSparkPathsBytes() throws IOException {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("launcher-");
        try (MiniHdfs hdfs = MiniHdfs.start(1); S3MockServer s3 = S3MockServer.start("merges")) {
            Configuration remote = hdfs.clientConf();
            s3.s3aSettings().forEach(remote::set);
            MergeFixtures.Pair onHdfs = MergeFixtures.write(hdfs.uri() + "/models", MergeFixtures.SHAPE, remote);
            MergeFixtures.Pair onDisk = MergeFixtures.write(work.resolve("models").toString(), MergeFixtures.SHAPE,
                    LOCAL);
            Path hdfsConfig = work.resolve("ties-hdfs.yml");
            Files.writeString(hdfsConfig, MergeFixtures.ties(onHdfs));
            Path diskConfig = work.resolve("ties-disk.yml");
            Files.writeString(diskConfig, MergeFixtures.ties(onDisk));
            String inJvm = "s3a://merges/merged";
            Path onSpark = work.resolve("spark");
            StringBuilder s3Settings = new StringBuilder();
            s3.s3aSettings().forEach((k, v) -> s3Settings.append(" -Dspark.hadoop.").append(k).append('=').append(v));

            mergeval(root, s3Settings.toString().strip(), "merge", hdfsConfig.toString(), inJvm, "--threads", "2");
            mergeval(root, "", "merge", diskConfig.toString(), onSpark.toString(), "--master", "local[1]");

            Map<String, String> shards = MergeFixtures.shardHashes(inJvm, remote);
            assertFalse(shards.isEmpty());
            assertEquals(MergeFixtures.shardHashes(onSpark.toString(), LOCAL), shards);
            assertTrue(environment(inJvm + "/mergeval_provenance.json", remote).get("spark_version").isNull(),
                    "no Spark jar on the in-JVM merge's class path");
            assertEquals(org.apache.spark.package$.MODULE$.SPARK_VERSION(),
                    environment(onSpark.resolve("mergeval_provenance.json").toString(), LOCAL)
                            .get("spark_version").asText());
        }
    }

    /**
     * A cluster's HDFS is named by its HA nameservice ({@code hdfs://NAMESERVICE/...}), which only
     * the cluster's {@code hdfs-site.xml} resolves to namenodes: the launcher must read it from
     * {@code HADOOP_CONF_DIR} as spark-submit does, with and without Spark.
     */
    @Test
    void hadoopConfDirResolvesAnHaNameservice() throws IOException {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("launcher-ha-");
        try (MiniHdfs hdfs = MiniHdfs.start(1)) {
            MergeFixtures.write(hdfs.uri() + "/models", MergeFixtures.SHAPE, hdfs.clientConf());
            String nameservice = "mergeval-ha";
            Path siteDir = Files.createDirectories(work.resolve("hadoop-conf"));
            Files.writeString(siteDir.resolve("hdfs-site.xml"), """
                    <configuration>
                      <property><name>dfs.nameservices</name><value>%1$s</value></property>
                      <property><name>dfs.ha.namenodes.%1$s</name><value>nn1</value></property>
                      <property><name>dfs.namenode.rpc-address.%1$s.nn1</name><value>%2$s</value></property>
                      <property><name>dfs.client.failover.proxy.provider.%1$s</name>
                        <value>org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider</value></property>
                    </configuration>
                    """.formatted(nameservice, hdfs.uri().substring("hdfs://".length())));
            Path config = work.resolve("ties-ha.yml");
            Files.writeString(config, MergeFixtures.ties(new MergeFixtures.Pair(
                    "hdfs://" + nameservice + "/models/base", "hdfs://" + nameservice + "/models/tune")));
            Map<String, String> withSite = Map.of("HADOOP_CONF_DIR", siteDir.toString());

            Path inJvm = work.resolve("in-jvm");
            Path onSpark = work.resolve("spark");
            Result without = run(root, Map.of(), "merge", config.toString(), work.resolve("without").toString());
            assertEquals(2, without.exit(), without.output());
            assertTrue(without.output().contains("unknown host '" + nameservice + "'"), without.output());
            mergeval(root, withSite, "merge", config.toString(), inJvm.toString());
            mergeval(root, withSite, "merge", config.toString(), onSpark.toString(), "--master", "local[1]");

            Map<String, String> shards = MergeFixtures.shardHashes(inJvm.toString(), LOCAL);
            assertFalse(shards.isEmpty());
            assertEquals(MergeFixtures.shardHashes(onSpark.toString(), LOCAL), shards);
        }
    }

    /** Runs bin/mergeval with {@code javaOpts} as {@code MERGEVAL_JAVA_OPTS}; fails unless it exits with 0. */
    private static void mergeval(Path root, String javaOpts, String... args) throws IOException {
        mergeval(root, Map.of("MERGEVAL_JAVA_OPTS", javaOpts), args);
    }

    /** Runs bin/mergeval with {@code env} added to its environment; fails unless it exits with 0. */
    private static void mergeval(Path root, Map<String, String> env, String... args) throws IOException {
        Result r = run(root, env, args);
        assertEquals(0, r.exit(), () -> String.join(" ", args) + ":\n" + r.output());
    }

    private record Result(int exit, String output) {
    }

    private static Result run(Path root, Map<String, String> env, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(root.resolve("bin/mergeval").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().remove("HADOOP_CONF_DIR");
        pb.environment().remove("YARN_CONF_DIR");
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "bin/mergeval timed out");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return new Result(p.exitValue(), out);
    }

    private static JsonNode environment(String provenance, Configuration conf) throws IOException {
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(provenance);
        try (InputStream in = p.getFileSystem(conf).open(p)) {
            return Mappers.JSON.readTree(in).get("environment");
        }
    }
}
