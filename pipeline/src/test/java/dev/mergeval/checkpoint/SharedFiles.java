package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the read-only {@code shared/} inputs next to the repository; tests skip without them. */
final class SharedFiles {

    private SharedFiles() {
    }

    /** The first {@code shared/} directory found walking up from {@code user.dir}, or null. */
    static Path sharedDir() {
        for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null;
             d = d.getParent()) {
            Path s = d.resolve("shared");
            if (Files.isDirectory(s.resolve("models"))) {
                return s;
            }
        }
        return null;
    }

    /** {@code shared/models/stories260K}, or the test is skipped with the reason. */
    static Path stories260K() {
        Path shared = sharedDir();
        Path dir = shared == null ? null : shared.resolve("models").resolve("stories260K");
        assumeTrue(dir != null && Files.isRegularFile(dir.resolve("model.safetensors")),
                "skipped: ../shared/models/stories260K/model.safetensors not found above "
                        + System.getProperty("user.dir"));
        return dir;
    }
}
