package dev.mergeval.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.DatasetKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalSuiteTest {

    @TempDir
    Path dir;

    private String write(String yaml) throws IOException {
        Path p = dir.resolve("suite.yaml");
        Files.writeString(p, yaml);
        return p.toString();
    }

    @Test
    void readsTasksWithDefaultsAndRelativePaths() throws IOException {
        EvalSuite s = EvalSuite.read(write(String.join("\n",
                "name: safety",
                "seed: 7",
                "defaults:",
                "  chat_template: false",
                "  generation: {max_new_tokens: 32}",
                "tasks:",
                "  - name: adv",
                "    dataset: {kind: advbench, path: data/adv.csv}",
                "    judge: keyword",
                "    limit: 10",
                "  - name: math",
                "    dataset: {kind: gsm8k, path: /abs/test.jsonl, few_shot_path: train.jsonl, n_shot: 5}",
                "    scorer: gsm8k",
                "    chat_template: true",
                "    system_prompt: Be brief.",
                "    generation: {max_new_tokens: 256, temperature: 0.7, repetition_penalty: 1.1, stop: [\"Question:\"]}",
                "  - name: arc",
                "    dataset: {kind: arc, path: \"s3a://bucket/arc [dev].jsonl\"}",
                "")));
        assertEquals("safety", s.name());
        assertEquals(7, s.seed());
        EvalTask adv = s.tasks().get(0);
        assertEquals(DatasetKind.ADVBENCH, adv.dataset().kind());
        assertTrue(adv.dataset().path().endsWith(dir.resolve("data/adv.csv").toString()), adv.dataset().path());
        assertEquals("keyword", adv.judge().kind());
        assertFalse(adv.chatTemplate());
        assertEquals(32, adv.generation().maxNewTokens());
        assertEquals(0.0, adv.generation().temperature());
        assertEquals(10, adv.limit());
        EvalTask math = s.tasks().get(1);
        assertEquals("/abs/test.jsonl", math.dataset().path());
        assertEquals(5, math.dataset().nShot());
        assertTrue(math.chatTemplate());
        assertEquals("Be brief.", math.systemPrompt());
        assertEquals(1.1, math.generation().repetitionPenalty());
        assertEquals(List.of("Question:"), math.generation().stopStrings());
        assertEquals(7, math.generation().seed());
        assertNull(math.judge());
        EvalTask arc = s.tasks().get(2);
        assertEquals("s3a://bucket/arc [dev].jsonl", arc.dataset().path(), "paths with a scheme are kept");
        assertEquals(EvalTask.MULTIPLE_CHOICE, arc.scorer());
        assertFalse(arc.generates());
        assertEquals(-1, arc.limit());
    }

    @Test
    void rejectsBadSuitesNamingTheProblem() throws IOException {
        BadInputException unknownKey = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - name: a\n    dataset: {kind: advbench, path: x.csv}\n    judge: keyword\n    max_tokens: 3\n")));
        assertTrue(unknownKey.getMessage().contains("max_tokens"), unknownKey.getMessage());
        assertTrue(unknownKey.getMessage().contains("suite.yaml"), unknownKey.getMessage());
        BadInputException both = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - name: a\n    dataset: {kind: gsm8k, path: x.jsonl}\n")));
        assertTrue(both.getMessage().contains("give exactly one of judge or scorer"), both.getMessage());
        BadInputException kind = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - name: a\n    dataset: {kind: squad, path: x.jsonl}\n    scorer: exact_match\n")));
        assertTrue(kind.getMessage().contains("unknown dataset kind 'squad'"), kind.getMessage());
        BadInputException dup = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: advbench, path: x}, judge: keyword}\n"
                        + "  - {name: a, dataset: {kind: advbench, path: x}, judge: refusal}\n")));
        assertTrue(dup.getMessage().contains("duplicate task name 'a'"), dup.getMessage());
        BadInputException mc = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: mmlu, path: x.csv}, scorer: exact_match}\n")));
        assertTrue(mc.getMessage().contains("needs scorer multiple_choice"), mc.getMessage());
        BadInputException badTemp = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: advbench, path: x}, judge: keyword, generation: {temperature: -1}}\n")));
        assertTrue(badTemp.getMessage().contains("temperature must be >= 0"), badTemp.getMessage());
        // 1e309 overflows to infinity: sampling would then be uniform over the vocabulary.
        BadInputException infTemp = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: advbench, path: x}, judge: keyword, generation: {temperature: 1e309}}\n")));
        assertTrue(infTemp.getMessage().contains("temperature must be >= 0 and finite, got Infinity"), infTemp.getMessage());
        // Jackson would cut a fraction to the integer below it.
        BadInputException fraction = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: advbench, path: x}, judge: keyword, generation: {max_new_tokens: 16.5}}\n")));
        assertTrue(fraction.getMessage().endsWith(
                ":2: tasks[0].generation.max_new_tokens: must be written as a whole number (got 16.5)"), fraction.getMessage());
    }

    @Test
    void aSuiteNamedWithoutAFolderKeepsRelativeDatasetPathsForTheWorkingDirectory() {
        // "suite.yaml" in the working directory: its datasets resolve against the working directory too.
        assertNull(EvalSuite.parentOf("suite.yaml"));
        EvalSuite s = EvalSuite.parse("tasks:\n  - {name: a, dataset: {kind: jsonl, path: data/x.jsonl}, judge: keyword}\n",
                "suite.yaml", EvalSuite.parentOf("suite.yaml"));
        assertEquals("data/x.jsonl", s.tasks().get(0).dataset().path());
        assertEquals("suites", EvalSuite.parentOf("suites/suite.yaml"));
        assertEquals("data/x.jsonl", EvalSuite.resolvePath(EvalSuite.parentOf("suites/suite.yaml"), "../data/x.jsonl"));
    }

    @Test
    void relativeDatasetPathsResolveAgainstTheSuiteFileNotTheWorkingDirectory() throws IOException {
        Files.createDirectories(dir.resolve("suites"));
        Files.createDirectories(dir.resolve("data"));
        Files.writeString(dir.resolve("data/x.jsonl"), "{\"prompt\": \"hello\"}\n");
        Path suite = dir.resolve("suites/suite.yaml");
        Files.writeString(suite, "tasks:\n  - {name: a, dataset: {kind: jsonl, path: ../data/x.jsonl}, judge: keyword}\n");
        EvalTask task = EvalSuite.read(suite.toString()).tasks().get(0);
        assertEquals(dir.resolve("data/x.jsonl").toString(), task.dataset().path());
        assertEquals(1, dev.mergeval.eval.datasets.Datasets.load(task.dataset()).size());
    }

    @Test
    void namesTheLineAndKeyOfYamlErrors() throws IOException {
        BadInputException syntax = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - name: a\n    dataset: {kind: jsonl, path: x.jsonl\n    judge: keyword\n")));
        assertTrue(syntax.getMessage().matches(".*suite\\.yaml:\\d+: invalid YAML: .*"), syntax.getMessage());
        BadInputException unknown = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - name: a\n    dataset: {kind: jsonl, path: x.jsonl}\n    judge: keyword\n    generation: {max_tokens: 3}\n")));
        assertTrue(unknown.getMessage().contains("suite.yaml:5: tasks[0].generation.max_tokens: unknown key"),
                unknown.getMessage());
        BadInputException limit = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: jsonl, path: x.jsonl}, judge: keyword, limit: 0}\n")));
        assertTrue(limit.getMessage().endsWith("suite.yaml: task 'a': limit must be >= 1, got 0"), limit.getMessage());
        BadInputException judge = assertThrows(BadInputException.class, () -> EvalSuite.read(write(
                "tasks:\n  - {name: a, dataset: {kind: jsonl, path: x.jsonl}, judge: gpt4}\n")));
        assertTrue(judge.getMessage().contains("suite.yaml: task 'a': unknown judge 'gpt4'"), judge.getMessage());
    }
}
