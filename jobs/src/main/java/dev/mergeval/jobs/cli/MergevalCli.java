package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.MergevalVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code mergeval} command line. Each subcommand is its own class; exit codes are 0 on
 * success, 2 on bad input or configuration (one line, no stack trace), 1 on internal failure.
 */
@Command(
        name = "mergeval",
        mixinStandardHelpOptions = true,
        version = "mergeval " + MergevalVersion.VERSION,
        description = "Merge fine-tuned LLM checkpoints with their aligned base and evaluate safety and skill.",
        subcommands = {
            CommandLine.HelpCommand.class,
            GenerateCommand.class,
            ScoreCommand.class,
            JudgeCommand.class,
            EvalCommand.class,
            MergeCommand.class,
            InspectCommand.class,
            BenchCommand.class,
            BenchEvalCommand.class,
            SweepCommand.class,
            DemoCommand.class,
            BenchMergeOnLoadCommand.class,
            ToyModelsCommand.class,
        })
public final class MergevalCli {

    public static final int EXIT_OK = 0;
    public static final int EXIT_INTERNAL = 1;
    public static final int EXIT_BAD_INPUT = 2;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new MergevalCli());
        cli.setExecutionExceptionHandler(MergevalCli::handle);
        cli.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("mergeval: " + ex.getMessage());
            return EXIT_BAD_INPUT;
        });
        return cli.execute(args);
    }

    private static int handle(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        BadInputException bad = badInputCause(ex);
        if (bad != null) {
            cmd.getErr().println("mergeval: error: " + bad.getMessage());
            return EXIT_BAD_INPUT;
        }
        cmd.getErr().println("mergeval: internal error: " + ex);
        ex.printStackTrace(cmd.getErr());
        return EXIT_INTERNAL;
    }

    /** Spark and thread pools wrap user errors; find the original one. */
    static BadInputException badInputCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException b) {
                return b;
            }
        }
        return null;
    }
}
