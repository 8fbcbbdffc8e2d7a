package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code mergeval bench merge|eval|runtime|merge-on-load|finetune} and the hidden top-level aliases
 * the benchmarks had before ({@code bench-merge}, ...), which scripts still call.
 */
class BenchCommandTest {

    private static final List<String> SUBCOMMANDS = List.of("merge", "eval", "runtime", "merge-on-load", "finetune",
            "serve", "engine");

    record Result(int exitCode, String stdout, String stderr) {
    }

    private static Result run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = MergevalCli.run(args);
            return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void everySubcommandPrintsItsHelp() {
        Result bench = run("bench", "--help");
        assertEquals(0, bench.exitCode(), bench.stderr());
        for (String sub : SUBCOMMANDS) {
            assertTrue(bench.stdout().contains("\n  " + sub + " "), "bench --help lists " + sub + ":\n" + bench.stdout());
            Result r = run("bench", sub, "--help");
            assertEquals(0, r.exitCode(), sub + ": " + r.stderr());
            assertTrue(r.stdout().startsWith("Usage: mergeval bench " + sub + " "), r.stdout());
        }
        Result missing = run("bench");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, missing.exitCode());
        assertEquals("mergeval: Missing required subcommand", missing.stderr().strip());
    }

    @Test
    void theAliasesAreHiddenAndNameTheSubcommandsTheyRun() {
        assertEquals(Map.of("bench-merge", "merge", "bench-eval", "eval", "bench-merge-on-load", "merge-on-load",
                "bench-finetune", "finetune"), BenchCommand.ALIASES);
        String help = run("--help").stdout();
        assertTrue(help.contains("\n  bench "), help);
        assertFalse(help.contains("bench-"), "aliases are hidden:\n" + help);
        CommandLine cli = MergevalCli.commandLine();
        CommandLine bench = cli.getSubcommands().get("bench");
        BenchCommand.ALIASES.forEach((alias, sub) -> {
            CommandSpec a = cli.getSubcommands().get(alias).getCommandSpec();
            CommandSpec s = bench.getSubcommands().get(sub).getCommandSpec();
            assertEquals(s.userObject().getClass(), a.userObject().getClass(), alias);
            assertEquals(options(s), options(a), alias + " has the options of bench " + sub);
            Result r = run(alias, "--help");
            assertEquals(0, r.exitCode(), alias + ": " + r.stderr());
            assertTrue(r.stdout().startsWith("Usage: mergeval " + alias + " "), r.stdout());
            assertEquals(run("bench", sub, "--help").stdout().replace("mergeval bench " + sub, "mergeval " + alias)
                    .replaceAll("\\s+", " "), r.stdout().replaceAll("\\s+", " "), alias + ": the same help");
        });
    }

    /** Every option with what parsing depends on: names, arity, whether required, default, split. */
    private static String options(CommandSpec spec) {
        return spec.options().stream().map((OptionSpec o) -> String.join(",", o.names()) + " arity=" + o.arity()
                        + " required=" + o.required() + " default=" + o.defaultValue() + " split=" + o.splitRegex())
                .sorted().collect(Collectors.joining("\n"));
    }

    @Test
    void theAliasesParseTheirOptionsLikeTheSubcommands() {
        for (List<String> prefix : List.of(List.of("bench", "merge"), List.of("bench-merge"))) {
            CommandLine cli = MergevalCli.commandLine();
            CommandLine.ParseResult parsed = cli.parseArgs(concat(prefix, "--work", "/tmp/w", "--size", "1GB",
                    "--methods", "linear,slerp", "--spark-masters", "local[1],local[2]"));
            while (parsed.hasSubcommand()) {
                parsed = parsed.subcommand();
            }
            BenchMergeCommand merge = (BenchMergeCommand) parsed.commandSpec().userObject();
            assertEquals("/tmp/w", merge.work, prefix.toString());
            assertEquals(1_000_000_000L, merge.size);
            assertEquals(List.of("linear", "slerp"), merge.methods);
            assertEquals(List.of("local[1]", "local[2]"), merge.sparkMasters);
        }
        // The same bad input, the same exit code and message, by either name.
        Result viaAlias = run("bench-eval", "--model", "m", "--advbench", "a.csv", "--limit", "0");
        Result viaBench = run("bench", "eval", "--model", "m", "--advbench", "a.csv", "--limit", "0");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, viaAlias.exitCode());
        assertEquals(viaBench.exitCode(), viaAlias.exitCode());
        assertEquals(viaBench.stderr(), viaAlias.stderr());
        assertTrue(viaAlias.stderr().startsWith("mergeval: error: --limit"), viaAlias.stderr());
        Result missing = run("bench-merge-on-load");
        assertEquals(MergevalCli.EXIT_BAD_INPUT, missing.exitCode());
        assertEquals(run("bench", "merge-on-load").stderr(), missing.stderr());
    }

    /** Refused before the input pair is generated: the work directory stays empty. */
    @Test
    void mergeChecksItsOptionsBeforeAnyWork(@TempDir Path work) throws IOException {
        List<List<String>> bad = List.of(List.of("--methods", "linear,bogus"), List.of("--spark-masters", "nonsense["),
                List.of("--chunk-elements", "0"), List.of("--repeats", "0"), List.of("--size", "24MB"));
        for (List<String> options : bad) {
            List<String> size = options.contains("--size") ? List.of() : List.of("--size", "1GB");
            List<String> args = new ArrayList<>(List.of("bench", "merge", "--work", work.toString()));
            args.addAll(size);
            args.addAll(options);
            Result r = run(args.toArray(String[]::new));
            assertEquals(MergevalCli.EXIT_BAD_INPUT, r.exitCode(), options + ": " + r.stderr());
            assertTrue(r.stderr().contains(options.get(0)), r.stderr());
            try (Stream<Path> files = Files.list(work)) {
                assertEquals(List.of(), files.toList(), options.toString());
            }
        }
    }

    /** Figures only for runs that fit: no NaN or negative rates, no stack trace. */
    @Test
    void runtimeRefusesRunsThatCannotGiveFigures(@TempDir Path work) {
        String model = ProjectLayout.root().resolve("models/toy/aligned").toString();
        List<List<String>> bad = List.of(List.of("--model", model, "--decode", "0"),
                List.of("--model", model, "--prompt-len", "0"),
                List.of("--model", model, "--prompt-len", "100000"),
                List.of("--model", work.resolve("nothing").toString()),
                List.of());
        for (List<String> options : bad) {
            List<String> args = new ArrayList<>(List.of("bench", "runtime"));
            args.addAll(options);
            Result r = run(args.toArray(String[]::new));
            assertEquals(MergevalCli.EXIT_BAD_INPUT, r.exitCode(), options + ": " + r.stderr());
            assertEquals(1, r.stderr().lines().filter(l -> !l.isBlank()).count(), r.stderr());
        }
    }

    @Test
    void bothNamesWriteTheLogFileTheBenchmarkAlwaysHad() {
        for (List<String> name : List.of(List.of("bench", "eval"), List.of("bench-eval"))) {
            assertEquals(MergevalCli.EXIT_BAD_INPUT,
                    run(concat(name, "--model", "m", "--advbench", "a.csv", "--limit", "0")).exitCode());
            Path log = ConsoleLogging.file();
            assertNotNull(log);
            assertTrue(log.getFileName().toString().startsWith("bench-eval-"), name + ": " + log);
        }
    }

    @Test
    void runtimeKeepsTheOrderOfItsModels() {
        CommandLine.ParseResult parsed = MergevalCli.commandLine().parseArgs("bench", "runtime", "--threads", "2",
                "--model", "/m/a", "--generate-100m", "/m/b", "--model", "/m/c", "--prompt-len", "16");
        BenchRuntimeCommand runtime = (BenchRuntimeCommand) parsed.subcommand().subcommand().commandSpec().userObject();
        assertEquals(2, runtime.threads);
        assertEquals(16, runtime.promptLen);
        assertEquals(64, runtime.decode);
        assertEquals(List.of("model /m/a", "generate /m/b", "model /m/c"), runtime.models.stream()
                .map(m -> m.dir != null ? "model " + m.dir : "generate " + m.generate).toList());
        assertEquals(MergevalCli.EXIT_BAD_INPUT, run("bench", "runtime", "--threads", "x").exitCode());
    }

    private static String[] concat(List<String> prefix, String... rest) {
        String[] out = prefix.toArray(new String[prefix.size() + rest.length]);
        System.arraycopy(rest, 0, out, prefix.size(), rest.length);
        return out;
    }
}
