package dev.mergeval.eval;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the read-only {@code shared/} inputs by walking up from the working directory. */
public final class SharedData {

    private SharedData() {
    }

    /** The {@code shared} directory, or {@code null} when none is above the working directory. */
    public static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("shared");
            if (Files.isDirectory(candidate.resolve("data"))) {
                return candidate;
            }
        }
        return null;
    }

    /** A file under {@code shared/}; skips the calling test with a message when it is absent. */
    public static Path require(String relative) {
        Path root = root();
        assumeTrue(root != null, "skipped: no shared/ directory above " + Path.of("").toAbsolutePath());
        Path p = root.resolve(relative);
        assumeTrue(Files.exists(p), "skipped: " + p + " is absent");
        return p;
    }
}
