package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.logging.log4j.core.LoggerContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console a user sees: {@code mergeval eval} run as its own process (as bin/mergeval runs it,
 * with conf/log4j2.properties) on the toy model. Without {@code --verbose}, standard error holds no
 * library log line and no hostname warning, and the log file holds Spark's INFO lines; a bad input
 * prints its one line and nothing else.
 */
class ConsoleLoggingTest {

    private static final Path ROOT = ProjectLayout.root();
    /** A line of {@link ConsoleLogging#CONSOLE_PATTERN} or of conf/log4j2.properties. */
    private static final Pattern LOG_LINE = Pattern.compile("(?m)^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} (TRACE|DEBUG|INFO|WARN|ERROR) ");
    private static final Pattern HOSTNAME = Pattern.compile("loopback address|SPARK_LOCAL_IP|native-hadoop");

    @TempDir
    static Path work;

    static Path suite;

    record Run(int exitCode, String stdout, String stderr, List<Path> logs) {
        String log() throws IOException {
            assertEquals(1, logs.size(), "one log file: " + logs);
            return Files.readString(logs.get(0));
        }
    }

    @BeforeAll
    static void suite() throws IOException {
        suite = work.resolve("suite.yaml");
        Files.writeString(suite, String.join("\n",
                "name: console",
                "defaults: {generation: {max_new_tokens: 4}}",
                "tasks:",
                "  - {name: harmful, dataset: {kind: jsonl, path: " + ROOT.resolve("data/toy/heldout-harmful.jsonl")
                        + "}, judge: keyword}",
                ""));
    }

    private static Run mergeval(String name, String... args) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        Matcher flags = Pattern.compile("<spark.jvm.flags>([^<]*)</").matcher(Files.readString(ROOT.resolve("pom.xml")));
        assertTrue(flags.find());
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(flags.group(1).strip().split("\\s+")));
        cmd.addAll(List.of("-Dai.djl.offline=true", "-Djava.io.tmpdir=" + tmp,
                "-Dlog4j2.configurationFile=" + ROOT.resolve("conf/log4j2.properties"),
                "-cp", ProjectLayout.testClasspath(), MergevalCli.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout").toFile()).redirectError(dir.resolve("stderr").toFile()).start();
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "mergeval " + String.join(" ", args) + " timed out");
        List<Path> logs;
        Path logDir = tmp.resolve(ConsoleLogging.DIR);
        try (Stream<Path> s = Files.isDirectory(logDir) ? Files.list(logDir) : Stream.empty()) {
            logs = s.toList();
        }
        return new Run(p.exitValue(), Files.readString(dir.resolve("stdout"), StandardCharsets.UTF_8),
                Files.readString(dir.resolve("stderr"), StandardCharsets.UTF_8), logs);
    }

    private static String[] eval(String model, String out, String... more) {
        List<String> a = new ArrayList<>(List.of("eval", "--model", model, "--suite", suite.toString(), "--out",
                work.resolve(out).toString(), "--limit", "2", "--master", "local[2]"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void quietConsoleAndSparksInfoLinesInTheLogFile() throws Exception {
        Run r = mergeval("quiet", eval(ROOT.resolve("models/toy/aligned").toString(), "out-quiet"));
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stdout().contains("evaluated 2 records"), r.stdout());
        assertFalse(LOG_LINE.matcher(r.stderr()).find(), "library log lines on stderr:\n" + r.stderr());
        assertFalse(HOSTNAME.matcher(r.stderr()).find(), r.stderr());
        String log = r.log();
        assertTrue(r.logs().get(0).getFileName().toString().matches("eval-\\d{8}-\\d{6}-\\d{3}-\\d+\\.log"),
                r.logs().toString());
        assertTrue(log.contains(" INFO [main] org.apache.spark.SparkContext: Running Spark version"), log);
        assertTrue(log.contains("dev.mergeval.eval.LocalEvaluator: jsonl: 200 rows"), "executor-side lines too");
        assertTrue(log.contains("org.apache.spark.executor.Executor: Finished task"), log);
    }

    @Test
    void verboseShowsTheLibraryLinesButNotTheHostnameWarnings() throws Exception {
        Run r = mergeval("verbose", eval(ROOT.resolve("models/toy/aligned").toString(), "out-verbose", "--verbose"));
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stderr().contains(" INFO SparkContext: Running Spark version"), r.stderr());
        assertTrue(r.stderr().contains(" INFO LocalEvaluator: jsonl: 200 rows"), r.stderr());
        assertFalse(Pattern.compile("loopback address|SPARK_LOCAL_IP").matcher(r.stderr()).find(), r.stderr());
        assertTrue(r.log().contains("Running Spark version"));
    }

    @Test
    void aBadInputPrintsOneLineAndTheLogKeepsTheDetails() throws Exception {
        Run r = mergeval("bad", eval(work.resolve("no-such-model").toString(), "out-bad"));
        assertEquals(MergevalCli.EXIT_BAD_INPUT, r.exitCode(), r.stderr());
        List<String> lines = r.stderr().lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), "stderr:\n" + r.stderr());
        assertTrue(lines.get(0).startsWith("mergeval: error: ") && lines.get(0).contains("no-such-model"), lines.get(0));
        String log = r.log();
        assertTrue(log.contains("ERROR [main] mergeval.failure: mergeval eval failed"), log);
        assertTrue(log.contains("no-such-model"), log);
    }

    @Test
    void startWritesAFileCopiedIntoAnOutputDirAndStopRestoresTheConfiguration() throws IOException {
        String before = LoggerContext.getContext(false).getConfiguration().getName();
        Path file = ConsoleLogging.start("unit", 0);
        try {
            org.slf4j.LoggerFactory.getLogger("org.apache.spark.Example").info("an info line for the file");
        } finally {
            ConsoleLogging.stop();
        }
        assertEquals(before, LoggerContext.getContext(false).getConfiguration().getName());
        assertEquals(file, ConsoleLogging.file());
        String logged = Files.readString(file);
        // Any thread name: MiniDFSCluster, started by an earlier test in this JVM, renames the main thread.
        assertTrue(logged.matches(
                "(?s).* INFO \\[[^\\]]*] org\\.apache\\.spark\\.Example: an info line for the file\\R.*"), logged);
        String copy = ConsoleLogging.copyTo(
                OutputLocation.resolve(work.resolve("published").toString(), new Configuration()));
        Path copied = work.resolve("published/logs").resolve(file.getFileName());
        assertTrue(copy.endsWith(copied.toString()), copy);
        assertEquals(Files.readString(file), Files.readString(copied));
        Files.delete(file);
    }

    /** java.util.logging's records (the AWS SDK's) go where every other library's go, not raw onto the console. */
    @Test
    void javaUtilLoggingGoesToTheLogFile() throws IOException {
        Path file = ConsoleLogging.start("unit", 0);
        try {
            java.util.logging.Logger.getLogger("com.amazonaws.util.Base64").warning("JAXB is unavailable");
        } finally {
            ConsoleLogging.stop();
        }
        String logged = Files.readString(file);
        assertTrue(logged.contains(" WARN [") && logged.contains("com.amazonaws.util.Base64: JAXB is unavailable"), logged);
        assertEquals(0, java.util.logging.Logger.getLogger("").getHandlers().length
                - (int) java.util.Arrays.stream(java.util.logging.Logger.getLogger("").getHandlers())
                        .filter(h -> h instanceof org.slf4j.bridge.SLF4JBridgeHandler).count(),
                "no console handler of java.util.logging's own");
        Files.delete(file);
    }

    /** {@code -vv}, as mergekit-yaml's: DEBUG lines too; one {@code -v} keeps them out of the file. */
    @Test
    void twoVerboseFlagsLogDebugLines() throws IOException {
        for (int verbosity : new int[] {1, 2}) {
            Path file = ConsoleLogging.start("unit", verbosity);
            try {
                org.slf4j.LoggerFactory.getLogger("org.apache.hadoop.Example").debug("a debug line");
                java.util.logging.Logger.getLogger("com.amazonaws.Example").fine("a fine line");
            } finally {
                ConsoleLogging.stop();
            }
            String logged = Files.readString(file);
            assertEquals(verbosity > 1, logged.contains(" DEBUG [") && logged.contains("a debug line"), logged);
            assertEquals(verbosity > 1, logged.contains("com.amazonaws.Example: a fine line"), logged);
            Files.delete(file);
        }
    }
}
