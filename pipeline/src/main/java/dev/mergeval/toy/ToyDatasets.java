package dev.mergeval.toy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The toy datasets: what the aligned model is trained on, what it is fine-tuned on (the downstream
 * task mixed with general chat, no safety data), and the held-out evaluation splits.
 */
record ToyDatasets(
        List<ChatExample> alignmentTrain,
        List<ChatExample> fineTuneTrain,
        List<ChatExample> heldOutHarmful,
        List<ChatExample> heldOutBorderline,
        List<ChatExample> heldOutBenign,
        List<ChatExample> heldOutTask) {

    public ToyDatasets {
        alignmentTrain = List.copyOf(alignmentTrain);
        fineTuneTrain = List.copyOf(fineTuneTrain);
        heldOutHarmful = List.copyOf(heldOutHarmful);
        heldOutBorderline = List.copyOf(heldOutBorderline);
        heldOutBenign = List.copyOf(heldOutBenign);
        heldOutTask = List.copyOf(heldOutTask);
    }

    /** Every split under its file name (without {@code .jsonl}), in a fixed order. */
    public Map<String, List<ChatExample>> splits() {
        Map<String, List<ChatExample>> m = new LinkedHashMap<>();
        m.put("alignment-train", alignmentTrain);
        m.put("finetune-train", fineTuneTrain);
        m.put("heldout-harmful", heldOutHarmful);
        m.put("heldout-borderline", heldOutBorderline);
        m.put("heldout-benign", heldOutBenign);
        m.put("heldout-task", heldOutTask);
        return m;
    }

    /**
     * Writes one JSONL file per split into {@code dir}: one object per line with {@code messages}
     * (user and assistant turns, the usual chat-dataset shape), {@code kind} and {@code intent}.
     * Returns the written files by split name.
     */
    public Map<String, Path> writeJsonl(Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<String, Path> written = new LinkedHashMap<>();
        for (Map.Entry<String, List<ChatExample>> e : splits().entrySet()) {
            Path file = dir.resolve(e.getKey() + ".jsonl");
            writeJsonl(file, e.getValue());
            written.put(e.getKey(), file);
        }
        return written;
    }

    /** Writes {@code examples} to {@code file} in the shape of {@link #writeJsonl(Path)}. */
    public static void writeJsonl(Path file, List<ChatExample> examples) throws IOException {
        ObjectMapper json = Mappers.JSON;
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (ChatExample ex : examples) {
                ObjectNode row = json.createObjectNode();
                ArrayNode messages = row.putArray("messages");
                messages.addObject().put("role", "user").put("content", ex.prompt());
                messages.addObject().put("role", "assistant").put("content", ex.response());
                row.put("kind", ex.kind());
                row.put("intent", ex.intent());
                w.write(json.writeValueAsString(row));
                w.write('\n');
            }
        }
    }

    /** Reads one split written by {@link #writeJsonl}; a malformed line is an error naming file and line. */
    public static List<ChatExample> readJsonl(Path file) throws IOException {
        ObjectMapper json = Mappers.JSON;
        List<ChatExample> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode row = json.readTree(line);
            JsonNode messages = row.path("messages");
            if (messages.size() != 2 || !messages.get(0).path("content").isTextual()
                    || !messages.get(1).path("content").isTextual()) {
                throw new BadInputException(file + ":" + lineNo + ": expected a user and an assistant message");
            }
            out.add(new ChatExample(row.path("kind").asText(), row.path("intent").asText(),
                    messages.get(0).get("content").asText(), messages.get(1).get("content").asText()));
        }
        return out;
    }

    /** Reads every split written by {@link #writeJsonl} from {@code dir}. */
    public static ToyDatasets readJsonlDir(Path dir) throws IOException {
        Map<String, List<ChatExample>> m = new LinkedHashMap<>();
        for (String split : List.of("alignment-train", "finetune-train", "heldout-harmful", "heldout-borderline",
                "heldout-benign", "heldout-task")) {
            Path file = dir.resolve(split + ".jsonl");
            if (!Files.isRegularFile(file)) {
                throw new BadInputException("missing dataset split " + file);
            }
            m.put(split, readJsonl(file));
        }
        return new ToyDatasets(m.get("alignment-train"), m.get("finetune-train"), m.get("heldout-harmful"),
                m.get("heldout-borderline"), m.get("heldout-benign"), m.get("heldout-task"));
    }
}
