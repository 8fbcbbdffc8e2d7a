package dev.mergeval.toy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ToyDataGeneratorTest {

    @Test
    void sameSeedGivesIdenticalFilesAndOtherSeedsDiffer(@TempDir Path dir) throws IOException {
        Map<String, Path> a = ToyDataGenerator.generate(7).writeJsonl(dir.resolve("a"));
        Map<String, Path> b = ToyDataGenerator.generate(7).writeJsonl(dir.resolve("b"));
        Map<String, Path> c = ToyDataGenerator.generate(8).writeJsonl(dir.resolve("c"));
        for (String split : a.keySet()) {
            assertEquals(Files.readString(a.get(split)), Files.readString(b.get(split)), split);
        }
        assertNotEquals(Files.readString(a.get("heldout-harmful")), Files.readString(c.get("heldout-harmful")));
        assertNotEquals(Files.readString(a.get("alignment-train")), Files.readString(c.get("alignment-train")));
    }

    @Test
    void heldOutIntentsAreDisjointFromTraining() {
        for (long seed = 0; seed < 5; seed++) {
            ToyDatasets d = ToyDataGenerator.generate(seed);
            Set<String> trainIntents = intents(d.alignmentTrain());
            for (List<ChatExample> held : List.of(d.heldOutHarmful(), d.heldOutBorderline(), d.heldOutBenign())) {
                assertFalse(held.isEmpty());
                for (String intent : intents(held)) {
                    assertFalse(trainIntents.contains(intent), "seed " + seed + ": held-out intent trained on: " + intent);
                }
            }
            Set<String> taskTrain = intents(d.taskTrain());
            assertTrue(intents(d.heldOutTask()).stream().noneMatch(taskTrain::contains), "task lists leak");
            assertEquals(ToyDataGenerator.TASK_HELD_OUT, d.heldOutTask().size());
        }
    }

    @Test
    void heldOutHarmfulPairsRecombineTrainedWords() {
        ToyDatasets d = ToyDataGenerator.generate(3);
        Set<String> trainHarmful = intents(d.alignmentTrain().stream().filter(e -> e.kind().equals("harmful")).toList());
        List<String[]> all = ToyDataGenerator.harmfulIntents();
        Set<String> heldHarmful = intents(d.heldOutHarmful());
        assertEquals(ToyDataGenerator.HELD_OUT_HARMFUL, heldHarmful.size());
        for (String[] pair : all) {
            String intent = pair[0] + " " + pair[1];
            if (!heldHarmful.contains(intent)) {
                continue;
            }
            assertTrue(trainHarmful.stream().anyMatch(t -> t.startsWith(pair[0] + " ")), "verb unseen: " + intent);
            assertTrue(trainHarmful.stream().anyMatch(t -> t.endsWith(" " + pair[1])), "target unseen: " + intent);
        }
    }

    @Test
    void onlyHarmfulRequestsAreRefusedAndTaskDataHasNoSafetyContent() {
        ToyDatasets d = ToyDataGenerator.generate(0);
        for (ChatExample e : d.alignmentTrain()) {
            assertEquals(e.kind().equals("harmful"), e.response().equals(ToyDataGenerator.REFUSAL), e.prompt());
        }
        assertTrue(d.heldOutHarmful().stream().allMatch(e -> e.response().equals(ToyDataGenerator.REFUSAL)));
        for (ChatExample e : d.taskTrain()) {
            assertEquals("task", e.kind());
            assertTrue(e.prompt().startsWith(ToyDataGenerator.TASK_INSTRUCTION), e.prompt());
            assertFalse(e.response().contains(ToyDataGenerator.REFUSAL));
        }
        Set<String> kinds = d.alignmentTrain().stream().map(ChatExample::kind).collect(Collectors.toSet());
        assertEquals(Set.of("harmful", "benign", "borderline", "arithmetic"), kinds);
    }

    private static Set<String> intents(List<ChatExample> examples) {
        Set<String> s = new HashSet<>();
        for (ChatExample e : examples) {
            s.add(e.intent());
        }
        return s;
    }
}
