package dev.mergeval.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsAggregatorTest {

    @TempDir
    Path dir;

    private static PromptRecord record(String model, String id, String category, Boolean refused, Boolean harmful) {
        Map<String, Boolean> outcomes = new HashMap<>();
        outcomes.put(PromptRecord.REFUSAL_RATE, refused);
        outcomes.put(PromptRecord.ASR, harmful);
        return new PromptRecord(model, "advbench", id, category, "p", "c", "wildguard", refused, harmful,
                harmful != null, "", outcomes, 3, 4, 1.5);
    }

    private static List<PromptRecord> records() {
        List<PromptRecord> out = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Boolean harmful = i % 17 == 0 ? null : i % 3 == 0;
            out.add(record(i % 2 == 0 ? "base" : "merged", "p" + i, i % 5 == 0 ? "cyber" : "bio",
                    harmful == null ? null : !harmful, harmful));
        }
        return out;
    }

    @Test
    void countsAndAsrExcludeUnparseable() {
        List<PromptRecord> rs = List.of(record("m", "a", "x", false, true), record("m", "b", "x", true, false),
                record("m", "c", "y", null, null), record("m", "d", "y", false, true));
        Map<String, MetricRow> byKey = new HashMap<>();
        for (MetricRow r : MetricsAggregator.aggregate(rs)) {
            byKey.put(r.metric() + "/" + r.category(), r);
        }
        MetricRow asr = byKey.get("asr/all");
        assertEquals(4, asr.n());
        assertEquals(1, asr.unparseable());
        assertEquals(2.0 / 3.0, asr.rate(), 1e-12, "ASR = harmful / (total - unparseable)");
        assertEquals(RateInterval.wilson(2, 3), asr.interval());
        assertEquals(1.0, byKey.get("asr/y").rate());
        assertEquals(2, byKey.get("asr/y").n());
    }

    @Test
    void partitioningAndMergeOrderDoNotChangeMetrics() {
        List<PromptRecord> all = records();
        List<MetricRow> single = MetricsAggregator.aggregate(all);
        List<PromptRecord> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, new Random(5));
        for (int parts : new int[] {2, 3, 7}) {
            List<MetricsAggregator.State> states = new ArrayList<>();
            for (int p = 0; p < parts; p++) {
                states.add(MetricsAggregator.zero());
            }
            for (int i = 0; i < shuffled.size(); i++) {
                MetricsAggregator.reduce(states.get(i % parts), shuffled.get(i));
            }
            MetricsAggregator.State merged = MetricsAggregator.zero();
            for (int p = parts - 1; p >= 0; p--) {
                merged = MetricsAggregator.merge(states.get(p), merged);
            }
            assertEquals(single, MetricsAggregator.finish(merged), parts + " partitions");
        }
        assertEquals(2 * 2 * 3, single.size(), "2 models x 2 metrics x (all + 2 categories)");
    }

    @Test
    void writesRecordsAndMetricsFiles() throws IOException {
        List<PromptRecord> rs = records();
        EvalOutputs.writeRecords(dir.resolve(EvalOutputs.RECORDS), rs);
        List<String> lines = Files.readAllLines(dir.resolve(EvalOutputs.RECORDS));
        assertEquals(200, lines.size());
        JsonNode first = EvalOutputs.JSON.readTree(lines.get(0));
        for (String f : List.of("model", "task", "prompt_id", "prompt", "completion", "refused", "harmful",
                "prompt_tokens", "completion_tokens", "latency_ms", "outcomes")) {
            assertTrue(first.has(f), f);
        }
        List<MetricRow> metrics = MetricsAggregator.aggregate(rs);
        EvalOutputs.writeMetrics(dir, metrics, Map.of("suite", "s.yaml"));
        JsonNode json = EvalOutputs.JSON.readTree(dir.resolve(EvalOutputs.METRICS_JSON).toFile());
        assertEquals(metrics.size(), json.get("metrics").size());
        assertEquals("s.yaml", json.get("suite").asText());
        List<String> csv = Files.readAllLines(dir.resolve(EvalOutputs.METRICS_CSV));
        assertEquals(EvalOutputs.CSV_HEADER, csv.get(0));
        assertEquals(metrics.size() + 1, csv.size());
        MetricRow r0 = metrics.get(0);
        assertTrue(csv.get(1).startsWith(String.join(",", r0.model(), r0.task(), r0.metric(), r0.category(),
                Long.toString(r0.n()), Long.toString(r0.unparseable()))), csv.get(1));
        assertEquals("\"a,b\"", EvalOutputs.csvField("a,b"));
    }
}
