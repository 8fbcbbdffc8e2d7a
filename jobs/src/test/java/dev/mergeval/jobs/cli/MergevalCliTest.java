package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line built for one invoked subcommand ({@link MergevalCli#commandLine(String)}) parses
 * and documents that subcommand exactly as the command line with every subcommand does.
 */
class MergevalCliTest {

    @Test
    void theInvokedSubcommandIsTheFirstArgumentThatIsNotAnOption() {
        assertEquals("merge", MergevalCli.invoked("merge", "a.yml", "out"));
        assertEquals("merge", MergevalCli.invoked("--verbose", "merge", "--threads", "2", "a.yml"));
        assertNull(MergevalCli.invoked("--help"));
        assertNull(MergevalCli.invoked());
    }

    @Test
    void oneSubcommandHasTheSameUsageAsAmongAllOfThem() {
        CommandLine all = MergevalCli.commandLine();
        for (String name : all.getSubcommands().keySet()) {
            CommandLine only = MergevalCli.commandLine(name);
            CommandLine sub = only.getSubcommands().get(name);
            assertEquals(all.getSubcommands().get(name).getUsageMessage(), sub.getUsageMessage(), name);
            if (!name.equals("help") && !BenchCommand.ALIASES.containsKey(name)) {
                assertEquals(Set.of(name), only.getSubcommands().keySet(), name + " is built alone");
            }
        }
    }

    @Test
    void helpAndUnknownNamesGetEverySubcommand() {
        Set<String> every = MergevalCli.commandLine().getSubcommands().keySet();
        assertTrue(every.containsAll(List.of("help", "merge", "extract-lora", "bench", "bench-merge")), every.toString());
        for (String invoked : new String[] {"help", "mrege", "bench-merge", null}) {
            assertEquals(every, MergevalCli.commandLine(invoked).getSubcommands().keySet(), String.valueOf(invoked));
        }
    }

    @Test
    void theInheritedVerboseOptionParsesAfterTheSubcommand() {
        CommandLine.ParseResult parsed = MergevalCli.commandLine("merge")
                .parseArgs("merge", "--verbose", "--threads", "3", "a.yml", "out");
        CommandLine.ParseResult merge = parsed.subcommand();
        assertTrue(merge.hasMatchedOption("--verbose"));
        assertEquals(3, (int) merge.matchedOptionValue("--threads", 0));
        for (String[] mergekit : new String[][] {{"-v"}, {"-vv"}, {"-v", "-v"}}) {
            List<String> args = new ArrayList<>(List.of("merge", "a.yml", "out"));
            args.addAll(List.of(mergekit));
            CommandLine.ParseResult verbose = MergevalCli.commandLine("merge").parseArgs(args.toArray(String[]::new));
            assertTrue(verbose.subcommand().hasMatchedOption("--verbose"), List.of(mergekit).toString());
        }
    }
}
