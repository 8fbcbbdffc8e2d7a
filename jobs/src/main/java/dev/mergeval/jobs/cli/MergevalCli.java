package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.provenance.Environment;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code mergeval} command line. Each subcommand is its own class; exit codes are 0 on
 * success, 2 on bad input or configuration (one line, no stack trace), 1 on internal failure
 * (the stack trace and the log file's path). Library log lines go to a log file while a command
 * runs, not the console, unless {@code --verbose} ({@link ConsoleLogging}).
 */
@Command(
        name = "mergeval",
        mixinStandardHelpOptions = true,
        versionProvider = MergevalCli.Version.class,
        description = "Merge fine-tuned LLM checkpoints with their aligned base and evaluate safety and skill.")
public final class MergevalCli {

    public static final int EXIT_OK = 0;
    public static final int EXIT_INTERNAL = 1;
    public static final int EXIT_BAD_INPUT = 2;

    /** The subcommands, in the order the help lists them. */
    private static final List<Class<?>> SUBCOMMANDS = List.of(
            CommandLine.HelpCommand.class,
            GenerateCommand.class,
            ScoreCommand.class,
            JudgeCommand.class,
            EvalCommand.class,
            MergeCommand.class,
            InspectCommand.class,
            BenchCommand.class,
            SweepCommand.class,
            DemoCommand.class,
            ToyModelsCommand.class,
            FinetuneCommand.class,
            ExtractLoraCommand.class,
            ScaleLoraCommand.class,
            ServeCommand.class);

    /** Declares the option for every subcommand; {@link #execute} reads it from the parse result, wherever given. */
    @Option(names = {"--verbose", "-v"}, scope = ScopeType.INHERIT,
            description = "Also show Spark's, Hadoop's and Mergeval's INFO log lines on the console (they always go to the"
                    + " log file); -vv, as mergekit-yaml's, DEBUG lines too, on the console and in the file.")
    boolean[] verbose;

    /** Set once the JVM is ending on a signal (SIGINT, SIGTERM): the failures that follow are its doing. */
    private static volatile boolean stopping;
    /** Set when the command has returned: a JVM ending after that is no signal's doing. */
    private static volatile boolean finished;
    private static final AtomicBoolean STOP_REPORTED = new AtomicBoolean();
    private static final String STOPPED = "mergeval: stopped by a signal before it finished; no output was published";

    public static void main(String[] args) {
        Runtime.getRuntime().addShutdownHook(new Thread(MergevalCli::endingOnASignal, "mergeval-stopping"));
        int code = run(args);
        finished = true;
        if (code == EXIT_OK) {
            markClassArchive();
        }
        System.exit(code);
    }

    /**
     * The JVM is ending before the command returned, so on a signal: says so once, then sends what
     * the dying threads print (Spark's and Scala's pools rejecting their work, with stack traces)
     * to the log file instead of the console, which ends with that one line.
     */
    private static void endingOnASignal() {
        stopping = true;
        if (finished || !STOP_REPORTED.compareAndSet(false, true)) {
            return;
        }
        ConsoleProgress.closeAll();
        System.err.println(STOPPED);
        System.err.flush();
        PrintStream rest = new PrintStream(OutputStream.nullOutputStream());
        Path log = ConsoleLogging.file();
        if (log != null) {
            try {
                rest = new PrintStream(new FileOutputStream(log.toFile(), true), true, StandardCharsets.UTF_8);
            } catch (IOException e) {
                // the console stays quiet all the same
            }
        }
        System.setErr(rest);
    }

    /**
     * Tells {@code bin/mergeval} that the class data archive this JVM dumps at exit comes from a
     * successful run, by creating the file {@code -Dmergeval.cds.ok} names: a failed run loaded few of
     * its command's classes, and the script keeps no archive without the mark.
     */
    private static void markClassArchive() {
        String mark = System.getProperty("mergeval.cds.ok");
        if (mark != null) {
            try {
                Files.writeString(Path.of(mark), "");
            } catch (IOException | RuntimeException e) {
                // no mark, no archive: the next run dumps one again
            }
        }
    }

    /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return commandLine(invoked(args)).execute(args);
    }

    /** The command line with every command, the hidden aliases included, and its handlers. */
    static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command line with its handlers and, where {@code invoked} names a subcommand other than
     * {@code help}, that subcommand only; else every one and the hidden aliases. Picocli builds a
     * command's model by reflection on all its options: the fourteen others took about 0.1 s of a
     * fresh JVM's start, on every run of any one command ({@code docs/benchmarks.md}, eighth pass).
     * Parsing and help of the one command are the same either way.
     */
    static CommandLine commandLine(String invoked) {
        CommandLine cli = new CommandLine(new MergevalCli());
        Class<?> only = SUBCOMMANDS.stream()
                .filter(c -> c != CommandLine.HelpCommand.class && c.getAnnotation(Command.class).name().equals(invoked))
                .findFirst().orElse(null);
        if (only != null) {
            cli.addSubcommand(only);
        } else {
            SUBCOMMANDS.forEach(cli::addSubcommand);
            BenchCommand.addAliases(cli);
        }
        cli.setExecutionExceptionHandler(MergevalCli::handle);
        cli.setExecutionStrategy(MergevalCli::execute);
        cli.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("mergeval: " + ex.getMessage());
            return EXIT_BAD_INPUT;
        });
        return cli;
    }

    /** The subcommand {@code args} name: the first argument that is not an option (the top level's take no value). */
    static String invoked(String... args) {
        for (String a : args) {
            if (!a.startsWith("-")) {
                return a;
            }
        }
        return null;
    }

    /** How many times {@code -v} was given at this level of the command line. */
    private static int verbosity(CommandLine.ParseResult level) {
        CommandLine.Model.OptionSpec option = level.matchedOption("--verbose");
        return option == null ? 0 : ((boolean[]) option.getValue()).length;
    }

    /** Runs the subcommand with its log file (none for help and version requests). */
    private static int execute(CommandLine.ParseResult parsed) {
        Integer help = CommandLine.executeHelpRequest(parsed);
        if (help != null) {
            return help;
        }
        CommandLine.ParseResult last = parsed;
        int verbosity = verbosity(parsed);
        // The command's path below mergeval, e.g. bench-merge for "bench merge" (the name of its log file).
        List<String> path = new ArrayList<>();
        while (last.hasSubcommand()) {
            last = last.subcommand();
            path.add(last.commandSpec().name());
            verbosity += verbosity(last);
        }
        if (last == parsed || last.commandSpec().userObject() instanceof CommandLine.HelpCommand) {
            return new CommandLine.RunLast().execute(parsed);
        }
        String command = String.join("-", path);
        ConsoleLogging.start(command, verbosity);
        // Input checks run before any Spark session, yet must reach s3a:// or hdfs:// suites with
        // the spark.hadoop.* settings the job will have.
        HadoopFs.useDefaults(SparkSessions.hadoopConfiguration());
        try {
            return new CommandLine.RunLast().execute(parsed);
        } catch (CommandLine.ExecutionException e) {
            LoggerFactory.getLogger(ConsoleLogging.FAILURE_LOGGER).error("mergeval {} failed", command, e.getCause());
            throw e;
        } finally {
            ConsoleLogging.stop();
        }
    }

    private static int handle(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        BadInputException bad = BadInputException.in(ex);
        if (bad != null) {
            cmd.getErr().println("mergeval: error: " + bad.getMessage());
            return EXIT_BAD_INPUT;
        }
        if (stopping) {
            // Spark's and the pools' own shutdown fails the work in flight; that is no internal error.
            if (STOP_REPORTED.compareAndSet(false, true)) {
                cmd.getErr().println(STOPPED);
            }
            return EXIT_INTERNAL;
        }
        cmd.getErr().println("mergeval: internal error: " + ex);
        ex.printStackTrace(cmd.getErr());
        Path log = ConsoleLogging.file();
        if (log != null) {
            cmd.getErr().println("mergeval: log: " + log);
        }
        return EXIT_INTERNAL;
    }

    /** {@code --version}: the version the build recorded ({@link Environment#buildVersion()}). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"mergeval " + Environment.buildVersion()};
        }
    }
}
