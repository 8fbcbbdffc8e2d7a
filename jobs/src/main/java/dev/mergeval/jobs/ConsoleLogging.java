package dev.mergeval.jobs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.Filter;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.builder.api.AppenderRefComponentBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilderFactory;
import org.apache.logging.log4j.core.config.builder.api.LayoutComponentBuilder;
import org.apache.logging.log4j.core.config.builder.api.LoggerComponentBuilder;
import org.apache.logging.log4j.core.config.builder.impl.BuiltConfiguration;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Logging while a command runs: everything at INFO into a log file, and on the console (standard
 * error, shared with the progress bar) only Mergeval's own warnings and errors, or with
 * {@code --verbose} everything the file gets ({@code -vv}: DEBUG lines too, in both). Spark, Hadoop and DJL log a line per task and per
 * stage, and a failed task's stack trace once per attempt; on the console they bury the progress
 * bar and the CLI's one-line error, in the file they are there when a run needs explaining.
 *
 * <p>Spark's start-up warnings about this machine's hostname resolving to a loopback address (and
 * Hadoop's about its missing native library) go to the file only, verbose or not: they say nothing
 * about the run, and local masters bind to 127.0.0.1 anyway ({@link SparkSessions}).
 *
 * <p>Under spark-submit the cluster's log4j2 configuration rules (log collection depends on it), so
 * nothing is changed there and there is no log file.
 */
public final class ConsoleLogging {

    /** The log files' directory: {@code ${java.io.tmpdir}/mergeval-logs}. */
    public static final String DIR = "mergeval-logs";

    public static final String CONSOLE_PATTERN = "%d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex";
    private static final String FILE_PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %p [%t] %c: %m%n%ex";
    /** Failures the CLI reports itself: into the file only, so the console shows them once. */
    public static final String FAILURE_LOGGER = "mergeval.failure";
    private static final String[] FILE_ONLY_LOGGERS = {"org.apache.hadoop.util.NativeCodeLoader", FAILURE_LOGGER};
    private static final String HOSTNAME_WARNINGS = "(?s).*(resolves to a loopback address|Set SPARK_LOCAL_IP).*";

    private static Path current;
    private static boolean active;

    private ConsoleLogging() {
    }

    /**
     * Sends this JVM's logging to a new log file (and the console as described above) until
     * {@link #stop}; returns the file, or {@code null} under spark-submit.
     *
     * @param command the subcommand, part of the file name
     */
    public static synchronized Path start(String command, int verbosity) {
        if (SparkSessions.underSparkSubmit()) {
            return null;
        }
        Path file = newFile(command);
        BuiltConfiguration config = configuration(file, verbosity);
        // A JVM that has not logged yet starts its logging with this configuration, rather than
        // configuring log4j2.configurationFile's first and replacing it (about 20 ms of a CLI's start).
        LoggerContext context = Configurator.initialize(ConsoleLogging.class.getClassLoader(), config);
        if (context == null || context.getConfiguration() != config) {
            Configurator.reconfigure(config);
        }
        // java.util.logging (the AWS SDK's) into the same file and rules, not raw onto the console;
        // Spark does the same when it starts, but a merge in this JVM starts no Spark.
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
        // Its FINE records are DEBUG lines once bridged; its own default level (INFO) would drop them.
        java.util.logging.Logger.getLogger("").setLevel(verbosity > 1 ? java.util.logging.Level.FINE
                : java.util.logging.Level.INFO);
        current = file;
        active = true;
        return file;
    }

    /** The log file of the command running now, or of the last one; {@code null} if none was started. */
    public static synchronized Path file() {
        return current;
    }

    /** Restores the configuration this JVM started with (tests run many commands in one JVM). */
    public static synchronized void stop() {
        if (active) {
            active = false;
            LoggerContext.getContext(false).reconfigure();
        }
    }

    /**
     * Copies the current log file into the output {@code out} (any Hadoop filesystem) as
     * {@code logs/<file name>}, so a resumed run keeps the earlier runs' logs next to its own;
     * returns the copy's path, or {@code null} when there is no log file.
     */
    public static synchronized String copyTo(OutputLocation out) {
        if (current == null) {
            return null;
        }
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(out.child("logs"), current.getFileName().toString());
        try {
            out.fs().copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(current.toUri()), target);
            return target.toString();
        } catch (IOException e) {
            throw new UncheckedIOException("copying the log " + current + " to " + out.display() + ": " + e.getMessage(), e);
        }
    }

    private static Path newFile(String command) {
        try {
            Path dir = Path.of(System.getProperty("java.io.tmpdir"), DIR);
            Files.createDirectories(dir);
            String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS"));
            return dir.resolve(command + "-" + stamp + "-" + ProcessHandle.current().pid() + ".log");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the log directory: " + e.getMessage(), e);
        }
    }

    static BuiltConfiguration configuration(Path file, int verbosity) {
        boolean verbose = verbosity > 0;
        Level level = verbosity > 1 ? Level.DEBUG : Level.INFO;
        ConfigurationBuilder<BuiltConfiguration> b = ConfigurationBuilderFactory.newConfigurationBuilder();
        b.setConfigurationName("mergeval-console");
        b.setStatusLevel(Level.ERROR);
        b.add(b.newAppender("file", "File").addAttribute("fileName", file.toString()).addAttribute("append", true)
                .add(layout(b, FILE_PATTERN)));
        // follow: writes go to System.err as it is then, which a run ending on a signal redirects
        b.add(b.newAppender("console", "Console").addAttribute("target", "SYSTEM_ERR").addAttribute("follow", true)
                .add(layout(b, CONSOLE_PATTERN))
                .add(b.newFilter("RegexFilter", Filter.Result.DENY, Filter.Result.NEUTRAL)
                        .addAttribute("regex", HOSTNAME_WARNINGS)));
        b.add(b.newRootLogger(level).add(b.newAppenderRef("file"))
                .add(console(b, verbose ? level : Level.OFF)));
        if (!verbose) {
            b.add(logger(b, "dev.mergeval").add(console(b, Level.WARN)));
        }
        for (String name : FILE_ONLY_LOGGERS) {
            b.add(logger(b, name));
        }
        return b.build(false);
    }

    private static LayoutComponentBuilder layout(ConfigurationBuilder<BuiltConfiguration> b, String pattern) {
        return b.newLayout("PatternLayout").addAttribute("pattern", pattern);
    }

    private static AppenderRefComponentBuilder console(ConfigurationBuilder<BuiltConfiguration> b, Level level) {
        return b.newAppenderRef("console").addAttribute("level", level);
    }

    /** A logger at INFO writing to the file, not inheriting the root's console. */
    private static LoggerComponentBuilder logger(ConfigurationBuilder<BuiltConfiguration> b, String name) {
        return b.newLogger(name, Level.INFO).addAttribute("additivity", false).add(b.newAppenderRef("file"));
    }
}
