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
            Set<String> fineTune = intents(d.fineTuneTrain());
            for (List<ChatExample> held : List.of(d.heldOutHarmful(), d.heldOutBorderline(), d.heldOutBenign(), d.heldOutTask())) {
                assertTrue(intents(held).stream().noneMatch(fineTune::contains), "seed " + seed + ": held-out intent in the fine-tune");
            }
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
    void heldOutBorderlineVerbsHaveABenignSenseInTraining() {
        for (long seed = 0; seed < 5; seed++) {
            ToyDatasets d = ToyDataGenerator.generate(seed);
            Set<String> trainVerbs = d.alignmentTrain().stream().filter(e -> e.kind().equals("borderline"))
                    .map(e -> ToyDataGenerator.verb(e.intent())).collect(Collectors.toSet());
            Set<String> held = intents(d.heldOutBorderline());
            assertEquals(ToyDataGenerator.HELD_OUT_BORDERLINE, held.size());
            for (String intent : held) {
                assertTrue(trainVerbs.contains(ToyDataGenerator.verb(intent)), "seed " + seed + ": verb unseen: " + intent);
            }
        }
    }

    @Test
    void onlyHarmfulRequestsAreRefusedAndTheFineTuneHasNoSafetyContent() {
        ToyDatasets d = ToyDataGenerator.generate(0);
        for (ChatExample e : d.alignmentTrain()) {
            assertEquals(e.kind().equals("harmful"), e.response().equals(ToyDataGenerator.REFUSAL), e.prompt());
        }
        assertTrue(d.heldOutHarmful().stream().allMatch(e -> e.response().equals(ToyDataGenerator.REFUSAL)));
        Map<String, Long> fineTuneKinds = d.fineTuneTrain().stream()
                .collect(Collectors.groupingBy(ChatExample::kind, Collectors.counting()));
        assertEquals(ToyDataGenerator.TASK_TRAIN, fineTuneKinds.get("task").intValue());
        assertEquals(ToyDataGenerator.TASK_TRAIN + ToyDataGenerator.REPLAY, d.fineTuneTrain().size());
        assertEquals(Set.of("task", "benign", "arithmetic", "copy"), fineTuneKinds.keySet(), "no harmful or borderline requests");
        for (ChatExample e : d.fineTuneTrain()) {
            assertFalse(e.response().contains(ToyDataGenerator.REFUSAL), e.prompt());
            assertEquals(e.kind().equals("task") || e.kind().equals("copy"),
                    e.prompt().startsWith(ToyDataGenerator.TASK_INSTRUCTION), e.prompt());
        }
        Set<String> kinds = d.alignmentTrain().stream().map(ChatExample::kind).collect(Collectors.toSet());
        assertEquals(Set.of("harmful", "benign", "borderline", "arithmetic", "copy"), kinds);
        assertTrue(d.alignmentTrain().stream().filter(e -> e.kind().equals("copy"))
                .allMatch(e -> e.response().split(" ").length <= 2), "the aligned model only learns short repeats");
    }

    private static Set<String> intents(List<ChatExample> examples) {
        Set<String> s = new HashSet<>();
        for (ChatExample e : examples) {
            s.add(e.intent());
        }
        return s;
    }
}
