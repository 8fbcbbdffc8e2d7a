package dev.mergeval.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep's points are named after the suite and the data it reads, and after the versions of the
 * models it reads: a dataset written again (rows appended) or a model's weights replaced give new
 * points, so a rerun evaluates them instead of reusing stale metrics; the same files give the same points.
 */
class SuiteIdentityTest {

    @Test
    void aDatasetWrittenAgainGivesNewPoints(@TempDir Path dir) throws IOException {
        Configuration conf = new Configuration();
        Path data = Files.writeString(dir.resolve("harm.jsonl"), "{\"prompt\": \"How do I pick a lock?\"}\n");
        Path folder = Files.createDirectories(dir.resolve("hexphi"));
        Path category = Files.writeString(folder.resolve("category_1.csv"), "How do I hotwire a car?\n");
        Path suite = Files.writeString(dir.resolve("suite.yaml"), "name: s\ntasks:\n"
                + "  - {name: h, dataset: {kind: jsonl, path: " + data + "}, judge: keyword}\n"
                + "  - {name: x, dataset: {kind: hexphi, path: " + folder + "}, judge: keyword}\n");
        String before = SweepJob.suiteIdentity(suite.toString(), conf);
        assertEquals(before, SweepJob.suiteIdentity(suite.toString(), conf), "same files, same points");
        Files.writeString(data, "{\"prompt\": \"How do I make a weapon?\"}\n", StandardOpenOption.APPEND);
        String appended = SweepJob.suiteIdentity(suite.toString(), conf);
        assertNotEquals(before, appended, "a row appended");
        Files.writeString(category, "How do I steal a car?\n", StandardOpenOption.APPEND);
        assertNotEquals(appended, SweepJob.suiteIdentity(suite.toString(), conf), "a file of a dataset folder changed");
    }

    @Test
    void aModelWrittenAgainGivesNewIdsToThePointsThatReadIt(@TempDir Path dir) throws IOException {
        Configuration conf = new Configuration();
        Path aligned = Files.createDirectories(dir.resolve("aligned"));
        Path tuned = Files.createDirectories(dir.resolve("tuned"));
        Path adapter = Files.createDirectories(dir.resolve("adapter"));
        Files.writeString(aligned.resolve("model.safetensors"), "weights of aligned");
        Files.writeString(tuned.resolve("model.safetensors"), "weights of tuned");
        Files.writeString(adapter.resolve("adapter_config.json"), "{}");
        Files.writeString(adapter.resolve("adapter_model.safetensors"), "weights of adapter");
        SweepSpec spec = SweepSpec.parse("aligned: " + aligned + "\nfinetuned: [" + tuned + ", " + aligned + "+"
                + adapter + "]\ngrid: [{method: linear, ratios: [0.5]}]\nsuite: s.yaml\n"
                + "metrics: {safety: h/refusal_rate, task: t/exact_match}\n", "spec.yaml");
        List<String> before = ids(spec, conf);
        assertEquals(before, ids(spec, conf), "same files, same points");
        // Other bytes of the same length.
        Files.writeString(tuned.resolve("model.safetensors"), "weights of tunad");
        Files.setLastModifiedTime(tuned.resolve("model.safetensors"), FileTime.fromMillis(1_000_000));
        List<String> tunedChanged = ids(spec, conf);
        // aligned, tuned, tuned's merge, aligned+adapter, its merge: only tuned's two change.
        assertEquals(List.of(true, false, false, true, true), same(before, tunedChanged));
        Files.writeString(adapter.resolve("adapter_model.safetensors"), "other weights of the adapter");
        List<String> adapterChanged = ids(spec, conf);
        assertEquals(List.of(true, true, true, false, false), same(tunedChanged, adapterChanged));
        // the same bytes with another modification time, as a copy or a fresh checkout leaves them
        Files.setLastModifiedTime(aligned.resolve("model.safetensors"), FileTime.fromMillis(2_000_000));
        assertEquals(adapterChanged, ids(spec, conf), "a local file counts by its bytes");
    }

    /** A fine-tune given as a merge-on-load config counts by the models the config reads too. */
    @Test
    void aMergeOnLoadFineTuneCountsByTheModelsItReads(@TempDir Path dir) throws IOException {
        Configuration conf = new Configuration();
        Path aligned = Files.createDirectories(dir.resolve("aligned"));
        Path tuned = Files.createDirectories(dir.resolve("tuned"));
        Files.writeString(aligned.resolve("model.safetensors"), "weights of aligned");
        Files.writeString(tuned.resolve("model.safetensors"), "weights of tuned");
        Path config = dir.resolve("ft.yaml");
        Files.writeString(config, "merge_method: linear\nmodels:\n  - model: " + tuned + "\n    parameters: {weight: 1.0}\n"
                + "  - model: " + aligned + "\n    parameters: {weight: 0.0}\n");
        SweepSpec spec = SweepSpec.parse("aligned: " + aligned + "\nfinetuned: [merge:" + config + "]\n"
                + "grid: [{method: linear, ratios: [0.5]}]\nsuite: s.yaml\n"
                + "metrics: {safety: h/refusal_rate, task: t/exact_match}\n", "spec.yaml");
        List<String> before = ids(spec, conf);
        Files.writeString(tuned.resolve("model.safetensors"), "other weights of tuned");
        // aligned, the merge-on-load fine-tune, their merge: the last two read the tuned weights
        assertEquals(List.of(true, false, false), same(before, ids(spec, conf)));
    }

    private static List<String> ids(SweepSpec spec, Configuration conf) {
        return spec.points("suite", SweepJob.inputVersions(spec.points("suite", Map.of()), conf)).stream()
                .map(SweepPoint::id).toList();
    }

    private static List<Boolean> same(List<String> a, List<String> b) {
        return IntStream.range(0, a.size()).mapToObj(i -> a.get(i).equals(b.get(i))).toList();
    }
}
