package dev.mergeval.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import dev.mergeval.jobs.cli.MergevalCli;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code mergeval sweep} comparing safety methods on the committed toy models: the plain and the
 * SPF fine-tune, a linear merge, and safe_lora, resta and spf_project with their knobs, on Spark;
 * every point lands in {@code results.csv} and the per-method block of {@code summary.json}.
 */
class SafetyMethodsSweepTest {

    @Test
    void everyMethodIsAPointAndARowOfTheComparison() throws IOException {
        Path root = ProjectLayout.root();
        Path work = ProjectLayout.scratch("safety-sweep-");
        Path spec = work.resolve("spec.yaml");
        String toy = root.resolve("models/toy").toString();
        String data = root.resolve("data/toy").toString();
        Files.writeString(spec, String.join("\n",
                "name: safety-methods",
                "aligned: " + toy + "/aligned",
                "finetuned: [" + toy + "/finetuned, " + toy + "/finetuned-spf]",
                "reference_finetuned: " + toy + "/finetuned",
                "grid:",
                "  - {method: linear, finetuned: [" + toy + "/finetuned], ratios: [0.8]}",
                "  - {method: safe_lora, finetuned: [" + toy + "/finetuned],"
                        + " parameters: {unaligned_model: " + toy + "/base, num_proj_layers: [6, 10]}}",
                "  - {method: resta, finetuned: [" + toy + "/finetuned], parameters: {unaligned_model: "
                        + toy + "/base, scale: 0.1}}",
                "  - {method: spf_project, finetuned: [" + toy + "/finetuned], parameters: {safety_data: "
                        + data + "/spf-safety.jsonl, rank: 8}}",
                "suite:",
                "  name: small",
                "  defaults: {chat_template: true, generation: {max_new_tokens: 16}}",
                "  tasks:",
                "    - {name: harmful, dataset: {kind: jsonl, path: " + data + "/heldout-harmful.jsonl}, judge: keyword, limit: 24}",
                "    - {name: task, dataset: {kind: jsonl, path: " + data + "/heldout-task.jsonl}, scorer: exact_match, limit: 24}",
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "seed: 0", ""));
        Path out = work.resolve("out");
        assertEquals(0, MergevalCli.run("sweep", spec.toString(), "--out", out.toString(), "--master", "local[2]"));

        CsvMapper csv = new CsvMapper().enable(CsvParser.Feature.WRAP_AS_ARRAY);
        List<String[]> rows = new ArrayList<>();
        try (var it = csv.readerFor(String[].class).readValues(out.resolve("results.csv").toFile())) {
            it.forEachRemaining(r -> rows.add((String[]) r));
        }
        List<String> header = List.of(rows.get(0));
        Map<String, String[]> byLabel = new LinkedHashMap<>();
        for (String[] r : rows.subList(1, rows.size())) {
            String method = r[header.indexOf("method")];
            String ft = r[header.indexOf("finetuned")];
            byLabel.put((method.isEmpty() ? r[header.indexOf("role")] : method) + " " + r[header.indexOf("ratio")]
                    + " " + r[header.indexOf("parameters")] + " " + ft.substring(ft.lastIndexOf('/') + 1), r);
        }
        assertEquals(8, byLabel.size(), byLabel.keySet().toString());
        int role = header.indexOf("role");
        int ratio = header.indexOf("ratio");
        for (String[] r : byLabel.values()) {
            String method = r[header.indexOf("method")];
            if (List.of("safe_lora", "resta", "spf_project").contains(method)) {
                assertEquals("merge", r[role], method);
                assertEquals("", r[ratio], "a post-hoc point has no ratio");
            }
        }
        assertTrue(byLabel.keySet().stream().anyMatch(k -> k.startsWith("finetuned 1.0 {} finetuned-spf")),
                byLabel.keySet().toString());

        JsonNode summary = new ObjectMapper().readTree(out.resolve("summary.json").toFile());
        List<String> methods = new ArrayList<>();
        summary.get("methods").forEach(m -> methods.add(m.get("method").asText() + " "
                + m.get("finetuned").asText().substring(m.get("finetuned").asText().lastIndexOf('/') + 1)));
        assertEquals(List.of("aligned null", "finetuned finetuned", "linear finetuned", "safe_lora finetuned",
                "resta finetuned", "spf_project finetuned", "finetuned finetuned-spf"), methods);
        // The SPF fine-tune's task gain is measured against the plain fine-tune's.
        int task = header.indexOf("task/exact_match");
        double tA = Double.parseDouble(rows.get(1)[task]);
        double tPlain = Double.parseDouble(byLabel.get("finetuned 1.0 {} finetuned")[task]);
        double tSpf = Double.parseDouble(byLabel.get("finetuned 1.0 {} finetuned-spf")[task]);
        JsonNode spfRow = summary.get("methods").get(6);
        assertEquals((tSpf - tA) / (tPlain - tA), spfRow.get("task_gain_retention").asDouble(), 1e-12);
        assertTrue(Files.readString(out.resolve("report.html")).contains("Methods compared"));
    }
}
