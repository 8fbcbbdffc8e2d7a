package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mergeval.checkpoint.Checkpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/** Locates {@code ../shared} test inputs and reads checkpoints whole for test oracles. */
public final class TestModels {

    private TestModels() {
    }

    /** The {@code shared} directory beside the repository root, or null. */
    public static Path sharedDir() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("models"))) {
                return candidate;
            }
        }
        return null;
    }

    /**
     * The checkout's root (the directory holding {@code models/toy} and {@code data/toy}), or skips the
     * test with a message when no ancestor of the working directory has them.
     */
    public static Path projectRoot() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("models/toy/aligned")) && Files.isDirectory(p.resolve("data/toy"))) {
                return p;
            }
        }
        assumeTrue(false, "models/toy and data/toy not found above " + System.getProperty("user.dir"));
        return null;
    }

    /** {@code shared/models/stories260K}, or skips the test with a message when absent. */
    public static Path stories260K() {
        Path shared = sharedDir();
        assumeTrue(shared != null && Files.isDirectory(shared.resolve("models/stories260K")),
                "../shared/models/stories260K not found: skipping test that needs the real model");
        return shared.resolve("models/stories260K");
    }

    /** A tensor for the test oracle: its shape and values decoded to float32. */
    public record Tensor(long[] shape, float[] data) {
    }

    /** Every tensor of the checkpoint at {@code dir}, decoded to float32 by the checkpoint reader. */
    public static Map<String, Tensor> readAll(Path dir) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Checkpoint ckpt = Checkpoint.open(dir.toString(), new Configuration())) {
            for (String name : ckpt.tensorNames()) {
                out.put(name, new Tensor(ckpt.info(name).shape(), ckpt.readFloats(name)));
            }
        }
        return out;
    }
}
