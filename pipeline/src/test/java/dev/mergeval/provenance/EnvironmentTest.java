package dev.mergeval.provenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.runtime.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@link Environment}: the version and revision come from the build, the rest from this JVM. */
class EnvironmentTest {

    @Test
    void theVersionIsThePomsAndTheRevisionACommitWhereThereIsAGitCheckout() throws IOException {
        Path root = TestModels.projectRoot();
        Matcher m = Pattern.compile("<artifactId>mergeval-parent</artifactId>\\s*<version>([^<]+)</version>")
                .matcher(Files.readString(root.resolve("pom.xml")));
        assertTrue(m.find());
        Environment env = Environment.current();
        assertEquals(m.group(1), env.mergevalVersion());
        assertEquals(m.group(1), Environment.buildVersion());
        if (Files.exists(root.resolve(".git"))) {
            assertTrue(env.gitRevision() == null || env.gitRevision().matches("[0-9a-f]{40}(-dirty)?"),
                    env.gitRevision());
        } else {
            assertNull(env.gitRevision(), "no checkout, no revision");
        }
    }

    @Test
    void theJvmsOwnValuesAndNoSparkInThePipeline() {
        Environment env = Environment.current();
        assertEquals(System.getProperty("java.version"), env.javaVersion());
        assertEquals(System.getProperty("java.vendor"), env.javaVendor());
        assertEquals(System.getProperty("os.name"), env.osName());
        assertEquals(System.getProperty("os.arch"), env.arch());
        assertEquals(System.getenv("MKL_CBWR"), env.mklCbwr());
        assertNull(env.sparkVersion(), "pipeline has no Spark on its classpath");
        assertTrue(env.djlVersion().matches("\\d+\\.\\d+\\.\\d+.*"), env.djlVersion());
    }

    /**
     * The PyTorch version is what the engine reports once loaded, and reading it does not load
     * libtorch (checked where this JVM has not loaded it yet; tests share a JVM).
     */
    @Test
    void thePytorchVersionIsTheEnginesWithoutLoadingIt() throws IOException {
        boolean loadedBefore = libtorchLoaded();
        String version = Environment.current().pytorchVersion();
        if (!loadedBefore) {
            assertFalse(libtorchLoaded(), "Environment.current() loaded libtorch");
        }
        assertEquals(ai.djl.engine.Engine.getEngine("PyTorch").getVersion(), version);
    }

    private static boolean libtorchLoaded() throws IOException {
        Path maps = Path.of("/proc/self/maps");
        return Files.isReadable(maps) && Files.readString(maps).contains("libtorch");
    }
}
