package dev.mergeval.jobs.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Where the project's scripts and the shared test inputs are, found from the test's working dir. */
public final class ProjectLayout {

    private ProjectLayout() {
    }

    /** The repository root: the nearest ancestor of {@code user.dir} holding {@code bin/local-cluster}. */
    public static Path root() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("bin/local-cluster"))) {
                return p;
            }
        }
        throw new IllegalStateException("bin/local-cluster not found above " + System.getProperty("user.dir"));
    }

    /** {@code ../shared} next to the repository root, if present. */
    public static Optional<Path> shared() {
        Path shared = root().resolveSibling("shared");
        return Files.isDirectory(shared) ? Optional.of(shared) : Optional.empty();
    }

    /** A fresh directory under {@code jobs/target} for one harness instance. */
    public static Path scratch(String prefix) {
        try {
            Path base = root().resolve("jobs/target/test-clusters");
            Files.createDirectories(base);
            return Files.createTempDirectory(base, prefix);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The test JVM's full classpath. Surefire runs tests from a manifest-only jar, so
     * {@code java.class.path} alone names one booter jar; it exports the real one separately.
     */
    public static String testClasspath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }
}
