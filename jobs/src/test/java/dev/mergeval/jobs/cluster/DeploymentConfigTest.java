package dev.mergeval.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/** conf/ and docker/ stay consistent with the build and with each other, and hold no secrets. */
class DeploymentConfigTest {

    private static final Path ROOT = ProjectLayout.root();
    private static final List<String> TEMPLATES = List.of("local", "standalone", "yarn", "k8s", "gpu");

    private static Map<String, String> template(String name) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(ROOT.resolve("conf/spark-defaults." + name + ".conf"))) {
            p.load(r);
        }
        Map<String, String> m = new LinkedHashMap<>();
        p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k).strip()));
        return m;
    }

    private static String pomProperty(String name) throws IOException {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]*)</").matcher(Files.readString(ROOT.resolve("pom.xml")));
        assertTrue(m.find(), name + " in pom.xml");
        return m.group(1).strip();
    }

    @Test
    void templatesAreSparkSettingsWithoutCredentials() throws IOException {
        Pattern secret = Pattern.compile("(?i)(access\\.key|secret\\.key|session\\.token|password|secret)");
        for (String t : TEMPLATES) {
            Map<String, String> conf = template(t);
            assertFalse(conf.isEmpty(), t);
            conf.forEach((k, v) -> {
                assertTrue(k.startsWith("spark."), t + ": " + k);
                assertFalse(secret.matcher(k).find(), t + " holds a credential key: " + k);
            });
            String providers = conf.get("spark.hadoop.fs.s3a.aws.credentials.provider");
            if (providers != null) {
                assertFalse(providers.contains("SimpleAWSCredentialsProvider"), t + ": keys would come from config");
                assertTrue(providers.contains("EnvironmentVariableCredentialsProvider"), t);
                assertTrue(providers.contains("IAMInstanceCredentialsProvider"), t);
            }
        }
    }

    @Test
    void clusterDriversGetTheJdk17FlagsOfTheBuild() throws IOException {
        String flags = pomProperty("spark.jvm.flags");
        for (String t : List.of("standalone", "yarn", "k8s")) {
            assertEquals(flags, template(t).get("spark.driver.extraJavaOptions"), t);
        }
    }

    @Test
    void gpuTemplateSharesEachGpuAcrossTheExecutorsTasks() throws Exception {
        Map<String, String> gpu = template("gpu");
        double perTask = Double.parseDouble(gpu.get("spark.task.resource.gpu.amount"));
        int cores = Integer.parseInt(gpu.get("spark.executor.cores"));
        int perExecutor = Integer.parseInt(gpu.get("spark.executor.resource.gpu.amount"));
        assertEquals(perExecutor, perTask * cores, 1e-9, "tasks per executor x GPU share = executor GPUs");
        assertEquals("com.nvidia.spark.SQLPlugin", gpu.get("spark.plugins"));

        String script = gpu.get("spark.executor.resource.gpu.discoveryScript");
        Path local = ROOT.resolve("conf").resolve(Path.of(script).getFileName());
        assertTrue(Files.isExecutable(local), local + " (installed at " + script + " in the image)");
        JsonNode info = new ObjectMapper().readTree(ProcessRunner.run(ROOT, 30, List.of(local.toString())));
        assertEquals("gpu", info.get("name").asText());
        assertTrue(info.get("addresses").isArray(), info.toString());
    }

    @Test
    void imagePinsTheVersionsTheBuildUses() throws IOException {
        String dockerfile = Files.readString(ROOT.resolve("docker/Dockerfile"));
        Map<String, String> expected = Map.of(
                "SPARK_VERSION", pomProperty("spark.version"),
                "HADOOP_VERSION", pomProperty("hadoop.version"),
                "AWS_SDK_VERSION", pomProperty("aws.sdk.version"),
                "DJL_VERSION", pomProperty("djl.version"),
                "PYTORCH_VERSION", pomProperty("pytorch.version"));
        expected.forEach((arg, version) -> assertTrue(dockerfile.contains("ARG " + arg + "=" + version + "\n"),
                "docker/Dockerfile ARG " + arg + " should be " + version));
        String compose = Files.readString(ROOT.resolve("docker/compose.yaml"));
        assertTrue(compose.contains("conf/spark-defaults.standalone.conf"), "compose mounts the standalone template");
        List<String> copied = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^COPY (\\S+)").matcher(dockerfile);
        while (m.find()) {
            copied.add(m.group(1));
        }
        for (String src : copied) {
            if (!src.contains("*") && !src.startsWith("jobs/target")) {
                assertTrue(Files.exists(ROOT.resolve(src)), "Dockerfile copies missing " + src);
            }
        }
    }

    @Test
    void localTemplateRunsAJob() throws IOException {
        SparkConf conf = new SparkConf(false);
        template("local").forEach(conf::set);
        conf.setAppName("local-template").setMaster("local[2]");
        JavaSparkContext sc = new JavaSparkContext(conf);
        try {
            assertEquals(5050L, sc.parallelize(Stream.iterate(1L, i -> i + 1).limit(100).toList(), 4)
                    .reduce(Long::sum));
        } finally {
            sc.stop();
        }
    }
}
