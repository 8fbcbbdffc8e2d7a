package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The occupied-output rules of eval, judge, sweep and demo, through the real CLI: every refusal is
 * exit 2 with one line naming the location, comes before Spark starts, and leaves everything under
 * the work directory as it was, byte for byte, with no staging directory beside it.
 */
class OccupiedOutputTest {

    @TempDir
    Path work;

    Path root = ProjectLayout.root();
    Path spec;
    Path input;

    @BeforeEach
    void inputs() throws IOException {
        spec = work.resolve("spec.yaml");
        Files.writeString(spec, String.join("\n",
                "name: occupied-test",
                "aligned: " + root.resolve("models/toy/aligned"),
                "finetuned: " + root.resolve("models/toy/finetuned"),
                "grid:",
                "  - {method: linear, ratios: [0.3, 0.7]}",
                "suite: " + root.resolve("conf/demo/suite.yaml"),
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "materialize: none",
                ""));
        input = work.resolve("completions.jsonl");
        Files.writeString(input, "{\"prompt\":\"p\",\"completion\":\"I cannot help with that.\"}\n");
    }

    private String[] eval(Path out, String... extra) {
        return args(List.of("eval", "--model", root.resolve("models/toy/aligned").toString(), "--suite",
                root.resolve("conf/demo/suite.yaml").toString(), "--limit", "1", "--out", out.toString()), extra);
    }

    private String[] judge(Path out, String... extra) {
        return args(List.of("judge", "--input", input.toString(), "--judge", "keyword", "--out", out.toString()), extra);
    }

    private String[] sweep(Path out, String... extra) {
        return args(List.of("sweep", spec.toString(), "--out", out.toString()), extra);
    }

    private String[] demo(Path out, String... extra) {
        return args(List.of("demo", "--project", root.toString(), "--out", out.toString()), extra);
    }

    private static String[] args(List<String> base, String... extra) {
        List<String> all = new ArrayList<>(base);
        all.addAll(List.of(extra));
        return all.toArray(new String[0]);
    }

    /** Runs the CLI, expects exit 2 and returns its one line of stderr; checks nothing under work changed. */
    private String refused(String... args) {
        Map<String, String> before = snapshot(work);
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = MergevalCli.run(args);
        } finally {
            System.setErr(old);
        }
        String err = buf.toString(StandardCharsets.UTF_8);
        assertEquals(2, rc, String.join(" ", args) + ": " + err);
        // Log lines (Hadoop's native-library warning) are the logging configuration's business.
        List<String> lines = err.lines().filter(l -> !l.matches("[0-9:.]+ (WARN|INFO) .*")).toList();
        assertEquals(1, lines.size(), "one line, no stack trace: " + err);
        assertTrue(lines.get(0).startsWith("mergeval: error: "), err);
        assertEquals(before, snapshot(work), "the refused run changed " + work);
        return lines.get(0);
    }

    /** The toy aligned model's files an evaluation loads, copied into {@code dir}. */
    private Path alignedCopy(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(root.resolve("models/toy/aligned").resolve(f), dir.resolve(f));
        }
        return dir;
    }

    /** Every file and directory under {@code dir}, hidden ones too, with file contents. */
    private static Map<String, String> snapshot(Path dir) {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                String rel = dir.relativize(p).toString();
                m.put(rel, Files.isDirectory(p) ? "<dir>" : new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    @Test
    void aFileIsRefusedByEveryCommandEvenWithOverwrite() throws IOException {
        Path file = work.resolve("taken.txt");
        Files.writeString(file, "someone's notes\n");
        String expected = file + ": output location is a file, not a directory";
        for (String[] args : List.of(eval(file), eval(file, "--overwrite"), judge(file), judge(file, "--overwrite"),
                sweep(file), sweep(file, "--overwrite"), demo(file), demo(file, "--overwrite"))) {
            String err = refused(args);
            assertTrue(err.endsWith(expected), err);
        }
    }

    @Test
    void evalAndJudgeRefuseANonEmptyDirectory() throws IOException {
        Path occupied = work.resolve("occupied");
        Files.createDirectories(occupied.resolve("sub"));
        Files.writeString(occupied.resolve("metrics.json"), "{\"mine\": true}\n");
        Files.writeString(occupied.resolve("sub/notes.txt"), "keep me\n");
        for (String[] args : List.of(eval(occupied), judge(occupied))) {
            String err = refused(args);
            assertTrue(err.contains(occupied + ": output directory is not empty") && err.contains("--overwrite"), err);
        }
    }

    @Test
    void sweepAndDemoRefuseForeignFiles() throws IOException {
        Path occupied = work.resolve("occupied");
        Files.createDirectories(occupied);
        Files.writeString(occupied.resolve("results.csv"), "point_id,refusal\nsomeone,0.5\n");
        for (String[] args : List.of(sweep(occupied), demo(occupied))) {
            String err = refused(args);
            assertTrue(err.contains(occupied + ": not empty and not a Mergeval sweep (holds results.csv)"), err);
            assertTrue(err.contains("--overwrite"), err);
        }
    }

    @Test
    void sweepRefusesASweepOfAnotherSpec() throws IOException {
        Path other = work.resolve("other-sweep");
        Files.createDirectories(other.resolve("points"));
        Files.writeString(other.resolve("sweep.json"), "{\"format\": \"mergeval-sweep-dir/1\", \"name\": \"other\","
                + " \"spec_hash\": \"0123456789abcdef0123\"}\n");
        Files.writeString(other.resolve("summary.json"), "{}\n");
        String err = refused(sweep(other));
        assertTrue(err.contains(other + ": holds a sweep of a different spec ('other', spec hash 0123456789ab"), err);
        assertTrue(err.contains("--overwrite"), err);
    }

    @Test
    void overwriteNeverDeletesTheSweepsOwnInputs() throws IOException {
        Path project = work.resolve("project");
        Files.createDirectories(project);
        Path inner = project.resolve("spec.yaml");
        Files.copy(spec, inner);
        Files.writeString(project.resolve("results.csv"), "x\n");
        spec = inner;
        String err = refused(sweep(project, "--overwrite"));
        assertTrue(err.contains(project + ": --overwrite would delete " + inner), err);
    }

    /** Nor does eval's: an output over the model it evaluates (or its suite) would delete it. */
    @Test
    void overwriteNeverDeletesTheEvaluationsInputs() throws IOException {
        Path model = alignedCopy(work.resolve("model"));
        List<String> args = new ArrayList<>(List.of(eval(model, "--overwrite")));
        args.set(args.indexOf("--model") + 1, model.toString());
        String err = refused(args.toArray(new String[0]));
        assertTrue(err.contains(model + ": --overwrite would delete " + model), err);
    }

    /** Nor the models a merge-on-load config names: its config file is not all the evaluation reads. */
    @Test
    void overwriteNeverDeletesAModelThatAMergeOnLoadReads() throws IOException {
        Path out = work.resolve("out");
        Path model = alignedCopy(out.resolve("model"));
        Path config = work.resolve("merge.yaml");
        Files.writeString(config, "merge_method: linear\nmodels:\n  - {model: %s, parameters: {weight: 0.5}}\n"
                .formatted(model) + "  - {model: %s, parameters: {weight: 0.5}}\n"
                .formatted(root.resolve("models/toy/finetuned")));
        List<String> args = new ArrayList<>(List.of(eval(out, "--overwrite")));
        args.set(args.indexOf("--model") + 1, "merge:" + config);
        String err = refused(args.toArray(new String[0]));
        assertTrue(err.contains(out + ": --overwrite would delete ") && err.contains(model.toString())
                && err.endsWith("which this evaluation reads; choose another output directory"), err);
    }

    /** Nor a dataset the suite reads: it is read before the output is replaced, and would be gone after. */
    @Test
    void overwriteNeverDeletesASuitesDataset() throws IOException {
        Path out = work.resolve("results");
        Files.createDirectories(out);
        Path data = Files.copy(root.resolve("data/toy/heldout-harmful.jsonl"), out.resolve("harmful.jsonl"));
        Path suite = work.resolve("suite.yaml");
        Files.writeString(suite, "name: s\ntasks:\n  - name: harmful\n    dataset: {kind: jsonl, path: " + data
                + "}\n    judge: keyword\n");
        List<String> args = new ArrayList<>(List.of(eval(out, "--overwrite")));
        args.set(args.indexOf("--suite") + 1, suite.toString());
        String err = refused(args.toArray(new String[0]));
        assertTrue(err.contains(out + ": --overwrite would delete " + data), err);
    }

    /** Nor judge's: completions kept in the output directory they are judged into. */
    @Test
    void overwriteNeverDeletesTheCompletionsBeingJudged() throws IOException {
        Path out = work.resolve("judged");
        Files.createDirectories(out);
        input = Files.copy(input, out.resolve("completions.jsonl"));
        String err = refused(judge(out, "--overwrite"));
        assertTrue(err.contains(out + ": --overwrite would delete " + input + ", which this judging reads"), err);
    }

    /**
     * Nor through a symbolic link: completions named by a link to the output directory are in it
     * (the check compared the paths as written, and --overwrite deleted them).
     */
    @Test
    void overwriteNeverDeletesWhatALinkIntoTheOutputNames() throws IOException {
        Path out = work.resolve("judged-linked");
        Files.createDirectories(out);
        Path completions = Files.copy(input, out.resolve("completions.jsonl"));
        Path link = Files.createSymbolicLink(work.resolve("link"), out);
        input = link.resolve("completions.jsonl");
        String err = refused(judge(out, "--overwrite"));
        assertTrue(err.contains(out + ": --overwrite would delete " + input + ", which this judging reads"), err);
        assertTrue(Files.exists(completions));
    }

    /** Nor a sweep's: a dataset its inline suite reads, kept in the output directory. */
    @Test
    void overwriteNeverDeletesADatasetOfASweepsInlineSuite() throws IOException {
        Path out = work.resolve("sweep-out");
        Files.createDirectories(out);
        Path data = Files.copy(root.resolve("data/toy/heldout-harmful.jsonl"), out.resolve("harmful.jsonl"));
        Files.writeString(spec, String.join("\n",
                "name: inline-test",
                "aligned: " + root.resolve("models/toy/aligned"),
                "finetuned: " + root.resolve("models/toy/finetuned"),
                "grid:",
                "  - {method: linear, ratios: [0.5]}",
                "suite:",
                "  name: s",
                "  tasks:",
                "    - {name: harmful, dataset: {kind: jsonl, path: " + data + "}, judge: keyword}",
                "    - {name: task, dataset: {kind: jsonl, path: " + root.resolve("data/toy/heldout-task.jsonl")
                        + "}, scorer: exact_match}",
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "materialize: none",
                ""));
        String err = refused(sweep(out, "--overwrite"));
        assertTrue(err.contains(out + ": --overwrite would delete " + data), err);
    }
}
