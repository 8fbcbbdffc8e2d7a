package dev.mergeval.jobs.cli;

import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code mergeval bench merge|eval|runtime|merge-on-load|finetune|serve}: the benchmarks, each a
 * subcommand ({@code docs/benchmarks.md}). Their earlier top-level names ({@link #ALIASES}) still
 * work, hidden from the help, for the scripts that call them.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: merge and evaluation throughput, runtime tokens per second, merge-on-load, SPF fine-tuning cost, serving.",
        subcommands = {
            BenchMergeCommand.class,
            BenchEvalCommand.class,
            BenchRuntimeCommand.class,
            BenchMergeOnLoadCommand.class,
            BenchFinetuneCommand.class,
            BenchEngineCommand.class,
            BenchServeCommand.class,
        })
final class BenchCommand {

    /** Earlier top-level name to the subcommand of {@code bench} it runs. */
    static final Map<String, String> ALIASES = Map.of(
            "bench-merge", "merge",
            "bench-eval", "eval",
            "bench-merge-on-load", "merge-on-load",
            "bench-finetune", "finetune");

    /**
     * Adds the hidden top-level aliases to {@code mergeval}: each a fresh instance of the subcommand's
     * class under its earlier name, so options, output and exit codes are the subcommand's own.
     */
    static void addAliases(CommandLine mergeval) {
        CommandLine bench = mergeval.getSubcommands().get("bench");
        ALIASES.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            Class<?> type = bench.getSubcommands().get(e.getValue()).getCommandSpec().userObject().getClass();
            CommandLine alias = new CommandLine(type);
            alias.getCommandSpec().name(e.getKey()).usageMessage().hidden(true);
            mergeval.addSubcommand(e.getKey(), alias);
        });
    }
}
