package dev.mergeval.provenance;

import ai.djl.engine.Engine;
import ai.djl.util.Platform;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an output was made with, recorded in every provenance record alike. Like Tribuo's
 * {@code ModelProvenance} it names the platform, because floating-point results (here libtorch's
 * CPU kernels under MKL) can differ between platforms and library versions. A value that cannot be
 * known is {@code null}, never a guess.
 *
 * @param mergevalVersion  the Maven project version of the build ({@code build.properties})
 * @param gitRevision      the commit the build was made from, {@code null} when built outside a git
 *                         checkout; followed by {@code -dirty} when tracked files had uncommitted
 *                         changes
 * @param javaVersion      {@code java.version}
 * @param javaVendor       {@code java.vendor}
 * @param osName           {@code os.name}
 * @param osVersion        {@code os.version}
 * @param arch             {@code os.arch}
 * @param sparkVersion     the Spark on the classpath (its {@code spark-version-info.properties}),
 *                         {@code null} outside a Spark job
 * @param djlVersion       {@link Engine#getDjlVersion()}
 * @param pytorchVersion   the libtorch version DJL's PyTorch engine loads here, resolved as DJL
 *                         resolves it ({@code PYTORCH_VERSION}, else the platform of the bundled
 *                         native jar) without loading the native library; what
 *                         {@code Engine.getEngine("PyTorch").getVersion()} reports once loaded
 * @param mklCbwr          {@code MKL_CBWR}: MKL's reproducibility mode, bit-exact training needs it
 * @param mklDisableFastMm {@code MKL_DISABLE_FAST_MM}
 * @param ompNumThreads    {@code OMP_NUM_THREADS}
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Environment(
        String mergevalVersion,
        String gitRevision,
        String javaVersion,
        String javaVendor,
        String osName,
        String osVersion,
        String arch,
        String sparkVersion,
        String djlVersion,
        String pytorchVersion,
        String mklCbwr,
        String mklDisableFastMm,
        String ompNumThreads) {

    /** Written by the build: {@code pipeline/src/main/resources/dev/mergeval/build.properties}, filtered. */
    static final String BUILD_PROPERTIES = "/dev/mergeval/build.properties";
    /** Spark-core's record of its own version, read as a resource so this package needs no Spark. */
    static final String SPARK_VERSION_INFO = "/spark-version-info.properties";

    private static final Properties BUILD = properties(BUILD_PROPERTIES);
    /** DJL's pattern of a libtorch version ({@code LibUtils}): the release, without a build suffix. */
    private static final Pattern LIBTORCH_VERSION =
            Pattern.compile("(\\d+\\.\\d+\\.\\d+(-[a-z]+)?)(-SNAPSHOT)?(-\\d+)?");

    /**
     * The Mergeval version this code was built as, for labels ({@code --version}, the
     * {@code mergeval_version} of outputs); {@code "unknown"} only for classes not built by Maven,
     * where {@link #current()} records {@code null}.
     */
    public static String buildVersion() {
        String v = value(BUILD, "version");
        return v == null ? "unknown" : v;
    }

    /**
     * This JVM's environment: system properties, variables and classpath resources, and DJL's view of
     * the platform, which is found once per JVM ({@link #prefetch}).
     */
    public static Environment current() {
        return new Environment(value(BUILD, "version"), value(BUILD, "git.revision"),
                System.getProperty("java.version"), System.getProperty("java.vendor"),
                System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("os.arch"),
                value(properties(SPARK_VERSION_INFO), "version"), Djl.VERSION, resolvePytorchVersion(),
                System.getenv("MKL_CBWR"), System.getenv("MKL_DISABLE_FAST_MM"), System.getenv("OMP_NUM_THREADS"));
    }

    /**
     * Starts finding DJL's view of the platform on a daemon thread, for a job that records its
     * environment at the end: the detection loads JNA and probes for CUDA (a process, {@code ldconfig
     * -p}), about 50 ms that a plan phase's idle cores can spend instead.
     */
    public static void prefetch() {
        Thread t = new Thread(Djl::load, "mergeval-environment");
        t.setDaemon(true);
        t.start();
    }

    /** DJL's version and its platform's libtorch version, detected when this class is first used. */
    private static final class Djl {
        static final String VERSION = detectDjlVersion();
        static final String PLATFORM_PYTORCH = detectPlatformPytorchVersion();

        /** Detects both (class initialisation, which other threads wait for). */
        static void load() {
        }
    }

    private static String detectDjlVersion() {
        try {
            return Engine.getDjlVersion();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /**
     * DJL's own resolution ({@code LibUtils}): the {@code PYTORCH_VERSION} override, else the
     * version of the platform DJL detects from the native jar on the classpath (or the engine's
     * default). {@code Engine.getInstance().getVersion()} would load libtorch, which a merge or a
     * Spark driver never needs.
     */
    private static String resolvePytorchVersion() {
        String override = System.getenv("PYTORCH_VERSION");
        if (override == null) {
            override = System.getProperty("PYTORCH_VERSION");
        }
        return override != null && !override.isEmpty() ? override : Djl.PLATFORM_PYTORCH;
    }

    private static String detectPlatformPytorchVersion() {
        String version;
        try {
            version = Platform.detectPlatform("pytorch").getVersion();
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
        // The native jar's version carries its build date (2.7.1-20250812); the engine reports 2.7.1.
        Matcher m = LIBTORCH_VERSION.matcher(version);
        return m.matches() ? m.group(1) : version;
    }

    private static Properties properties(String resource) {
        Properties p = new Properties();
        try (InputStream in = Environment.class.getResourceAsStream(resource)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // unreadable: the values are unknown
        }
        return p;
    }

    /** A property's value; empty or never filtered ({@code ${...}}) means unknown. */
    private static String value(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null || v.isBlank() || v.startsWith("${") ? null : v.trim();
    }
}
