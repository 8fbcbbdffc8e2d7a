package dev.mergeval.eval.datasets;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * MMLU-style CSV with a header: {@code question}, the choice columns ({@code choice0..choiceK} or
 * {@code A..E}, in header order), and {@code answer} as a 0-based index or a letter. Formatted as
 * lm-evaluation-harness's {@code mmlu}: the question, then one {@code "A. text"} line per choice,
 * then {@code "Answer:"}; the continuations are {@code " A"}, {@code " B"}, ... The category is
 * the file stem with a trailing {@code _dev}/{@code _test}/{@code _val} removed (the subject).
 */
final class MmluLoader {

    private static final Pattern CHOICE_COLUMN = Pattern.compile("choice\\d+|[A-E]");
    private static final String LETTERS = "ABCDEFGHIJ";

    private MmluLoader() {
    }

    public static Dataset load(String path) {
        String subject = DatasetFiles.stem(path).replaceFirst("_(dev|test|val|validation)$", "");
        try (Reader in = DatasetFiles.open(path)) {
            CsvTable t = CsvTable.readWithHeader(path, in, List.of("question", "answer"));
            List<String> choiceCols = t.header().stream().filter(h -> CHOICE_COLUMN.matcher(h).matches()).toList();
            if (choiceCols.size() < 2 || choiceCols.size() > LETTERS.length()) {
                throw new dev.mergeval.common.BadInputException(path + ":1: expected 2 to 10 choice columns "
                        + "(choice0.. or A..), found " + choiceCols);
            }
            List<EvalExample> out = new ArrayList<>();
            for (CsvTable.Row r : t.rows()) {
                StringBuilder prompt = new StringBuilder(r.required("question").strip());
                List<String> continuations = new ArrayList<>();
                for (int i = 0; i < choiceCols.size(); i++) {
                    prompt.append('\n').append(LETTERS.charAt(i)).append(". ")
                            .append(r.optional(choiceCols.get(i)).strip());
                    continuations.add(" " + LETTERS.charAt(i));
                }
                prompt.append("\nAnswer:");
                int gold = gold(r, r.required("answer").strip(), choiceCols.size());
                out.add(new EvalExample(subject + "-" + out.size(), prompt.toString(), Integer.toString(gold),
                        subject, continuations, Map.of()));
            }
            return new Dataset(path, DatasetKind.MMLU, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int gold(CsvTable.Row r, String answer, int n) {
        int gold;
        if (answer.matches("\\d+")) {
            gold = Integer.parseInt(answer);
        } else if (answer.length() == 1 && LETTERS.indexOf(answer.charAt(0)) >= 0) {
            gold = LETTERS.indexOf(answer.charAt(0));
        } else {
            throw r.bad("answer must be a 0-based index or a letter, found '" + answer + "'");
        }
        if (gold >= n) {
            throw r.bad("answer " + answer + " is out of range for " + n + " choices");
        }
        return gold;
    }
}
