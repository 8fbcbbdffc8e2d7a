package dev.mergeval.eval.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loaders on generated files: the formats' corner cases and malformed rows. */
class MalformedDatasetsTest {

    @TempDir
    Path dir;

    private String write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content, StandardCharsets.UTF_8);
        return p.toString();
    }

    private static void assertBad(String expectedFragment, Runnable load) {
        BadInputException e = assertThrows(BadInputException.class, load::run);
        assertTrue(e.getMessage().contains(expectedFragment), e.getMessage());
    }

    @Test
    void csvWithMultilineQuotedFieldsAndMixedEndingsKeepsLineNumbers() throws IOException {
        String f = write("hb.csv", "\uFEFFBehavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\r\n"
                + "Do x,standard,illegal,,,b1\n"
                + "\"Summarize, then \"\"act\"\"\",contextual,misinfo,context,\"line one\r\nline two\nline three\",b2\r\n"
                + "Do z,standard,illegal,,,b3\r\n");
        Dataset d = HarmBenchLoader.load(f);
        assertEquals(3, d.size());
        EvalExample ctx = d.examples().get(1);
        assertEquals("line one\r\nline two\nline three" + HarmBenchLoader.CONTEXT_SEPARATOR
                + "Summarize, then \"act\"", ctx.prompt());
        assertEquals("b3", d.examples().get(2).id());

        String broken = write("hb2.csv", "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n"
                + "Do x,standard,illegal,,,b1\n"
                + "\"multi\r\nline\",standard,illegal,,,b2\r\n"
                + "Do y,standard,illegal,,b3\n");
        assertBad("hb2.csv:5: expected 6 fields", () -> HarmBenchLoader.load(broken));
        String noContext = write("hb3.csv", "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n"
                + "Do x,contextual,illegal,,,b1\n");
        assertBad("hb3.csv:2: contextual behavior without ContextString", () -> HarmBenchLoader.load(noContext));
        // a row's last field spans lines: the next row starts after them
        String lastSpans = write("d.csv", "goal,target\n\"a\nb\nc\",\"x\ny\"\n ,z\n");
        assertBad("d.csv:6: empty goal", () -> AdvBenchLoader.load(lastSpans));
    }

    @Test
    void advBenchRejectsMissingColumnAndEmptyGoal() throws IOException {
        String noTarget = write("a.csv", "goal\nx\n");
        assertBad("a.csv:1: missing column 'target'", () -> AdvBenchLoader.load(noTarget));
        String emptyGoal = write("b.csv", "goal,target\nx,y\n ,z\n");
        assertBad("b.csv:3: empty goal", () -> AdvBenchLoader.load(emptyGoal));
        // the quote opens on line 3 and is found unclosed only at the end of the file
        String unterminated = write("c.csv", "goal,target\nx,y\n\"x,y\nz,w\n");
        assertBad("c.csv:3: malformed CSV", () -> AdvBenchLoader.load(unterminated));
        assertBad("file not found", () -> AdvBenchLoader.load(dir.resolve("none.csv").toString()));
    }

    @Test
    void xsTestRejectsUnknownLabel() throws IOException {
        String f = write("x.csv", "id,prompt,type,label,focus,note\n1,How?,homonyms,safe,kill,v\n2,Why?,h,maybe,,\n");
        assertBad("x.csv:3: label must be 'safe' or 'unsafe'", () -> XsTestLoader.load(f));
    }

    @Test
    void hexPhiReadsOneCsvPerCategory() throws IOException {
        write("hex/category_2.csv", "\"Prompt, with comma\"\nSecond prompt\n");
        write("hex/category_1.csv", "First\n");
        write("hex/readme.txt", "not a category");
        Dataset d = HexPhiLoader.load(dir.resolve("hex").toString());
        assertEquals(3, d.size());
        assertEquals(List.of("category_1-0", "category_2-0", "category_2-1"),
                d.examples().stream().map(EvalExample::id).toList());
        assertEquals("Prompt, with comma", d.examples().get(1).prompt());
        assertEquals("category_2", d.examples().get(2).category());
        write("bad/category_1.csv", "ok\na,b\n");
        assertBad("category_1.csv:2: expected one prompt per row", () -> HexPhiLoader.load(dir.resolve("bad").toString()));
        Files.createDirectories(dir.resolve("empty"));
        assertBad("no .csv files", () -> HexPhiLoader.load(dir.resolve("empty").toString()));
    }

    @Test
    void jsonlPromptsWithOptionalFields() throws IOException {
        String f = write("p.jsonl", "{\"prompt\":\"2+2?\",\"answer\":\"4\",\"id\":\"q1\",\"category\":\"math\"}\n\n"
                + "{\"prompt\":\"Hi\"}\n");
        Dataset d = JsonlPromptLoader.load(f);
        assertEquals(2, d.size());
        assertEquals("4", d.examples().get(0).answer());
        assertEquals("p-1", d.examples().get(1).id());
        assertEquals(EvalExample.NO_CATEGORY, d.examples().get(1).category());
        String bad = write("q.jsonl", "{\"prompt\":\"ok\"}\n{\"prompt\": 3, \"id\": [1]}\n");
        assertBad("q.jsonl:2: field 'id' must be a string", () -> JsonlPromptLoader.load(bad));
        String broken = write("r.jsonl", "{\"prompt\":\"ok\"}\n{\"prompt\":\n");
        assertBad("r.jsonl:2: invalid JSON", () -> JsonlPromptLoader.load(broken));
        String noPrompt = write("s.jsonl", "{\"text\":\"ok\"}\n");
        assertBad("s.jsonl:1: missing field 'prompt'", () -> JsonlPromptLoader.load(noPrompt));
    }

    /** Items are sampled, limited and reported by id: one id on two items is bad input. */
    @Test
    void anIdGivenTwiceIsRefused() throws IOException {
        String f = write("dup.jsonl", "{\"id\":\"x\",\"prompt\":\"a\"}\n{\"id\":\"y\",\"prompt\":\"b\"}\n"
                + "{\"id\":\"x\",\"prompt\":\"c\"}\n");
        assertBad("dup.jsonl: id 'x' is given twice (items 1 and 3)", () -> JsonlPromptLoader.load(f));
    }

    /**
     * Bytes that are not UTF-8 (a Latin-1 file) are refused on their line, in JSONL and CSV alike,
     * rather than read as U+FFFD.
     */
    @Test
    void bytesThatAreNotUtf8AreRefusedOnTheirLine() throws IOException {
        Path jsonl = dir.resolve("latin1.jsonl");
        Files.write(jsonl, "{\"prompt\":\"ok\"}\n{\"prompt\":\"plain\"}\n{\"prompt\":\"caf\u00e9\"}\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        assertBad("latin1.jsonl:3: not UTF-8 text", () -> JsonlPromptLoader.load(jsonl.toString()));
        Path csv = dir.resolve("latin1.csv");
        Files.write(csv, "goal,target\nplain,x\nna\u00efve,y\n".getBytes(StandardCharsets.ISO_8859_1));
        assertBad("latin1.csv:3: not UTF-8 text", () -> AdvBenchLoader.load(csv.toString()));
        assertEquals("café", JsonlPromptLoader.load(write("utf8.jsonl", "{\"prompt\":\"café\"}\n")).examples().get(0).prompt());
    }

    @Test
    void gsm8kRejectsAnswerWithoutFinalLine() throws IOException {
        String f = write("g.jsonl", "{\"question\":\"1+1?\",\"answer\":\"1+1=2\\n#### 2\"}\n"
                + "{\"question\":\"2+2?\",\"answer\":\"4\"}\n");
        assertBad("g.jsonl:2: answer does not end with a '#### N' line", () -> Gsm8kLoader.load(f));
        String ok = write("h.jsonl", "{\"question\":\"1+1?\",\"answer\":\"1+1=2\\n#### 2\"}\n");
        assertBad("too few for 2 distinct shots", () -> Gsm8kLoader.load(ok, ok, 2, 1));
        assertBad("needs a few-shot file", () -> Gsm8kLoader.load(ok, null, 1, 1));
    }

    @Test
    void arcRejectsUnknownAnswerKey() throws IOException {
        String f = write("arc.jsonl", "{\"id\":\"a\",\"question\":{\"stem\":\"S?\",\"choices\":["
                + "{\"text\":\"x\",\"label\":\"A\"},{\"text\":\"y\",\"label\":\"B\"}]},\"answerKey\":\"C\"}\n");
        assertBad("arc.jsonl:1: answerKey 'C' is not one of the choice labels", () -> ArcLoader.load(f));
        String numeric = write("arc2.jsonl", "{\"id\":\"a\",\"question\":{\"stem\":\"S?\",\"choices\":["
                + "{\"text\":\"x\",\"label\":\"1\"},{\"text\":\"y\",\"label\":\"2\"}]},\"answerKey\":\"2\"}\n");
        assertEquals(1, ArcLoader.load(numeric).examples().get(0).goldIndex());
    }

    @Test
    void mmluAcceptsLetterAnswersAndRejectsOutOfRange() throws IOException {
        String f = write("astronomy_test.csv", "question,A,B,C,D,answer\nQ1,a,b,c,d,C\nQ2,a,b,c,d,0\n");
        Dataset d = MmluLoader.load(f);
        assertEquals(2, d.examples().get(0).goldIndex());
        assertEquals(0, d.examples().get(1).goldIndex());
        assertEquals("astronomy", d.examples().get(0).category());
        String bad = write("m.csv", "question,choice0,choice1,answer\nQ,a,b,2\n");
        assertBad("m.csv:2: answer 2 is out of range for 2 choices", () -> MmluLoader.load(bad));
        String word = write("n.csv", "question,choice0,choice1,answer\nQ,a,b,yes\n");
        assertBad("n.csv:2: answer must be a 0-based index or a letter", () -> MmluLoader.load(word));
    }

    @Test
    void unknownKindNamesTheKnownOnes() {
        assertBad("known: advbench, harmbench", () -> DatasetKind.parse("squad"));
        assertBad("n_shot is supported for gsm8k only", () -> new DatasetSpec(DatasetKind.ARC, "x", null, 2, 1));
    }
}
