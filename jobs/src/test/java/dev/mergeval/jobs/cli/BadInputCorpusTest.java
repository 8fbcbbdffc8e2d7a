package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Walks the bad-input corpus ({@code src/test/resources/bad-input}, see its README) through the CLI:
 * each case runs {@code mergeval} as a real subprocess, from a copy of the case directory so that
 * relative paths resolve as a user's would, and must exit 2 with exactly one stderr line naming the
 * problem, no stack trace, and no file written. Validation happens before any Spark session starts,
 * so a case takes one JVM start.
 */
class BadInputCorpusTest {

    private static final int PARALLEL_CASES = 2;
    private static final long CASE_TIMEOUT_SECONDS = 120;

    @TempDir
    Path scratch;

    /** What one case printed, and the files of its directory before and after. */
    private record Run(String name, int exitCode, String stdout, String stderr, Set<String> before,
                       Set<String> after, List<String> expected) {
    }

    @TestFactory
    Stream<DynamicTest> everyCaseExitsTwoWithOneLineAndWritesNothing() throws Exception {
        Path corpus = ProjectLayout.root().resolve("jobs/src/test/resources/bad-input");
        List<Path> cases;
        try (Stream<Path> s = Files.list(corpus)) {
            cases = s.filter(Files::isDirectory).sorted().toList();
        }
        assertTrue(cases.size() >= 30, "corpus has " + cases.size() + " cases");
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL_CASES);
        try {
            List<Future<Run>> runs = new ArrayList<>();
            for (Path c : cases) {
                runs.add(pool.submit(() -> run(c)));
            }
            List<Run> done = new ArrayList<>();
            for (Future<Run> f : runs) {
                done.add(f.get());
            }
            return done.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> check(r)));
        } finally {
            pool.shutdownNow();
        }
    }

    private static void check(Run r) {
        String where = r.name() + "\nstderr:\n" + r.stderr() + "\nstdout:\n" + r.stdout();
        assertEquals(MergevalCli.EXIT_BAD_INPUT, r.exitCode(), where);
        String err = r.stderr().strip();
        assertEquals(1, err.lines().count(), "stderr must be one line: " + where);
        assertTrue(err.startsWith("mergeval: "), where);
        assertFalse(r.stderr().contains("\tat ") || r.stderr().contains("Exception in"), "stack trace: " + where);
        for (String e : r.expected()) {
            assertTrue(err.contains(e), "stderr lacks '" + e + "': " + where);
        }
        assertEquals(r.before(), r.after(), "files created: " + where);
    }

    private Run run(Path caseDir) throws IOException, InterruptedException {
        String name = caseDir.getFileName().toString();
        Path dir = scratch.resolve(name);
        copy(caseDir, dir);
        Files.createSymbolicLink(dir.resolve("toy"), ProjectLayout.root().resolve("models/toy"));
        List<String> args = Files.readAllLines(dir.resolve("args")).stream().filter(l -> !l.isBlank()).toList();
        List<String> expected = Files.readAllLines(dir.resolve("expect")).stream().filter(l -> !l.isBlank()).toList();
        Set<String> before = files(dir);
        Path stdout = scratch.resolve(name + ".stdout");
        Path stderr = scratch.resolve(name + ".stderr");
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmFlags());
        command.addAll(List.of("-cp", ProjectLayout.testClasspath(), MergevalCli.class.getName()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(CASE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(name + ": timed out after " + CASE_TIMEOUT_SECONDS + " s");
        }
        return new Run(name, p.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8), before, files(dir), expected);
    }

    /**
     * The Spark module flags this JVM got from the pom, the logging bin/mergeval runs with, and
     * settings for a fast start.
     */
    private static List<String> jvmFlags() {
        List<String> flags = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.equals("-XX:+IgnoreUnrecognizedVMOptions")
                    || a.startsWith("-Djdk.reflect.useDirectMethodHandle")) {
                flags.add(a);
            }
        }
        Path root = ProjectLayout.root();
        flags.add("-Dlog4j2.configurationFile=" + root.resolve("conf/log4j2.properties"));
        flags.addAll(List.of("-Dai.djl.offline=true", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m"));
        return flags;
    }

    /** Every path under {@code dir} with its bytes' hash: an occupied output must stay byte for byte. */
    private static Set<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            Set<String> out = new TreeSet<>();
            for (Path p : s.toList()) {
                String digest = Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        ? " " + java.util.Arrays.hashCode(Files.readAllBytes(p)) : "";
                out.add(dir.relativize(p) + digest);
            }
            return out;
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            s.forEach(p -> {
                try {
                    Files.copy(p, to.resolve(from.relativize(p).toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
