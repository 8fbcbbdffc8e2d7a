package dev.mergeval.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.StagingClaim;
import dev.mergeval.jobs.cli.CliRun;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A sweep resumed after a kill: it holds the directory's claim while it works (a second run into it
 * is refused), and it clears what the killed run left staged, in the points' directories and beside
 * the final files.
 */
class SweepResumeTest {

    @Test
    void aResumedSweepClearsTheKilledRunsStagingAndRefusesALiveRun() throws IOException {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("sweep-resume-");
        String toy = root.resolve("models/toy").toString();
        String data = root.resolve("data/toy").toString();
        Path spec = Files.writeString(work.resolve("spec.yaml"), String.join("\n",
                "aligned: " + toy + "/aligned",
                "finetuned: " + toy + "/finetuned",
                "grid: [{method: linear, ratios: [0.5]}]",
                "suite:",
                "  defaults: {chat_template: true, generation: {max_new_tokens: 2}}",
                "  tasks:",
                "    - {name: harmful, dataset: {kind: jsonl, path: " + data + "/heldout-harmful.jsonl}, judge: keyword, limit: 1}",
                "    - {name: task, dataset: {kind: jsonl, path: " + data + "/heldout-task.jsonl}, scorer: exact_match, limit: 1}",
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "materialize: none", ""));
        Path out = work.resolve("out");
        List<String> sweep = List.of("sweep", spec.toString(), "--out", out.toString(), "--master", "local[1]");
        assertEquals(0, MergevalCli.run(sweep.toArray(String[]::new)));

        // What a SIGKILLed run leaves: a point's evaluation staged, and final files staged.
        try (Stream<Path> points = Files.list(out.resolve(SweepJob.POINTS_DIR))) {
            for (Path point : points.toList()) {
                Files.writeString(Files.createDirectories(point.resolve(".eval.mergeval-staging-dead/records.parquet"))
                        .resolve("part-00000.parquet"), "partial");
            }
        }
        Files.writeString(Files.createDirectories(out.resolve(".final.mergeval-staging-dead")).resolve("results.csv"),
                "partial");

        try (StagingClaim live = StagingClaim.take(HadoopFs.local(), HadoopFs.of(out), out.toString())) {
            // Refused before Spark starts: a master Spark cannot parse would fail it otherwise.
            List<String> second = new ArrayList<>(sweep.subList(0, sweep.size() - 1));
            second.add("no-such-master");
            CliRun run = CliRun.of(second.toArray(String[]::new));
            assertEquals(MergevalCli.EXIT_BAD_INPUT, run.rc(), run.err());
            assertTrue(run.err().contains(out + ": another run of this job is writing it"), run.err());
            // --overwrite empties the directory only under its own claim: the live run's files stay.
            List<String> replacing = new ArrayList<>(sweep);
            replacing.add("--overwrite");
            CliRun over = CliRun.of(replacing.toArray(String[]::new));
            assertEquals(MergevalCli.EXIT_BAD_INPUT, over.rc(), over.err());
            assertTrue(over.err().contains(out + ": another run of this job is writing it"), over.err());
            assertTrue(Files.isDirectory(out.resolve(SweepJob.POINTS_DIR)), "the running sweep's points are kept");
        }
        assertEquals(0, MergevalCli.run(sweep.toArray(String[]::new)));
        try (Stream<Path> files = Files.walk(out)) {
            List<String> left = files.map(p -> out.relativize(p).toString())
                    .filter(p -> p.contains("mergeval-staging") || p.contains(StagingClaim.FILE)).toList();
            assertEquals(List.of(), left);
        }
        assertTrue(Files.exists(out.resolve("summary.json")));
    }
}
