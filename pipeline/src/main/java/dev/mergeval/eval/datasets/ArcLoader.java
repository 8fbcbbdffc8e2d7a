package dev.mergeval.eval.datasets;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * AI2 ARC JSON Lines: {@code id}, {@code question.stem}, {@code question.choices[{text,label}]},
 * {@code answerKey} (a label). Formatted as lm-evaluation-harness's {@code arc_challenge}: context
 * {@code "Question: {stem}\nAnswer:"}, continuations {@code " " + text}. The answer is the 0-based
 * index of the choice whose label equals {@code answerKey}.
 */
final class ArcLoader {

    private ArcLoader() {
    }

    public static Dataset load(String path) {
        List<EvalExample> out = new ArrayList<>();
        for (JsonlFile.Line l : JsonlFile.read(path)) {
            String id = l.text("id");
            JsonNode q = l.node().get("question");
            if (q == null || !q.isObject()) {
                throw l.bad("missing object 'question'");
            }
            JsonNode stem = q.get("stem");
            if (stem == null || !stem.isTextual() || stem.asText().isBlank()) {
                throw l.bad("missing question.stem");
            }
            JsonNode choices = q.get("choices");
            if (choices == null || !choices.isArray() || choices.size() < 2) {
                throw l.bad("question.choices must be an array of at least 2 choices");
            }
            String key = l.text("answerKey");
            List<String> texts = new ArrayList<>();
            int gold = -1;
            for (JsonNode c : choices) {
                JsonNode text = c.get("text");
                JsonNode label = c.get("label");
                if (text == null || !text.isTextual() || label == null || !label.isTextual()) {
                    throw l.bad("each choice needs string 'text' and 'label'");
                }
                if (label.asText().equals(key)) {
                    gold = texts.size();
                }
                texts.add(" " + text.asText());
            }
            if (gold < 0) {
                throw l.bad("answerKey '" + key + "' is not one of the choice labels");
            }
            out.add(new EvalExample(id, "Question: " + stem.asText() + "\nAnswer:", Integer.toString(gold),
                    null, texts, Map.of("answerKey", key)));
        }
        return new Dataset(path, DatasetKind.ARC, out);
    }
}
