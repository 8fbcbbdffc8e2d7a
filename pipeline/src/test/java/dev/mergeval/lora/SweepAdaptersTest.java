package dev.mergeval.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.onload.MergeLoader;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LanguageModels;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TensorSource;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep's {@code lora_adapters:}: each ratio's adapter, loaded as {@code ALIGNED+ADAPTER}, equals the
 * sweep's merge-on-load point of the linear merge at that ratio (weights within float rounding, the
 * same greedy tokens on the toy model), for a LoRA fine-tune (scaled directly) and for a full
 * fine-tune (extracted first); the serve command names every adapter.
 */
class SweepAdaptersTest {

    @TempDir
    Path tmp;

    final Configuration conf = new Configuration();
    final Path root = TestModels.projectRoot();
    final String aligned = root.resolve("models/toy/aligned").toString();
    final String full = root.resolve("models/toy/finetuned").toString();

    @Test
    void eachRatiosAdapterIsTheMergeOnLoadPoint() throws IOException {
        // A LoRA fine-tune of the aligned model: the rank-8 adapter of the full fine-tune.
        Path rank8 = tmp.resolve("ft-lora");
        LoraExtraction.run(LoraExtraction.Request.of(full, aligned, 8, rank8.toString()),
                new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        String loraFt = aligned + "+" + rank8;
        SweepSpec spec = SweepSpec.parse(String.join("\n",
                "aligned: " + aligned,
                "finetuned: [" + loraFt + ", " + full + "]",
                "grid:",
                "  - {method: linear, ratios: [0, 0.3, 0.75]}",
                "  - {method: ties, ratios: [0.5], parameters: {density: 0.5}}",
                "suite: " + root.resolve("conf/demo/suite.yaml"),
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "lora_adapters: {max_rank: 64}",
                ""), "spec.yaml");
        List<SweepPoint> points = spec.points("test-suite", Map.of());
        Path sweep = tmp.resolve("sweep");
        SweepAdapters.Written written = SweepAdapters.write(spec.loraAdapters(), spec.aligned(), spec.finetuned(),
                points, spec.seed(), sweep.toString(), new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        assertEquals(6, written.entries().size(), "3 linear ratios x 2 fine-tunes; ties is not linear");

        RuntimeOptions cpu = RuntimeOptions.cpu();
        GenerationParams greedy = GenerationParams.greedy(16);
        List<String> prompts = List.of("Once upon a time", "The little dog");
        for (SweepAdapters.Entry e : written.entries()) {
            SweepPoint point = points.stream().filter(p -> p.id().equals(e.point())).findFirst().orElseThrow();
            assertEquals("linear", point.method());
            assertEquals(point.ratio(), e.ratio());
            boolean lora = e.finetuned().equals(loraFt);
            if (lora) {
                assertNull(e.extractionError(), "a LoRA fine-tune is scaled as it is");
                assertEquals(8 * e.ratio(), e.loraAlpha(), 1e-12, "lora_alpha = l * alpha");
            } else {
                assertNotNull(e.extractionError());
                assertTrue(e.extractionError() < 1e-6, "full rank: " + e.extractionError());
            }
            JsonNode cfg = Mappers.JSON.readTree(Files.readString(Path.of(e.path(), "adapter_config.json")));
            assertEquals(e.loraAlpha(), cfg.get("lora_alpha").asDouble(), 0);
            Path yaml = tmp.resolve(e.name() + ".yaml");
            Files.writeString(yaml, point.toMergekitYaml());
            MergeConfig merge = MergeConfig.parse(point.toMergekitYaml(), yaml.toString(), yaml.toString());
            String adapted = aligned + "+" + e.path();
            try (LanguageModels.Opened onLoad = MergeLoader.open(merge, yaml.toString(), point.seed(), "m", conf);
                 Checkpoint viaAdapter = Checkpoint.open(adapted, conf)) {
                TensorSource merged = onLoad.tensors();
                for (String name : merged.names()) {
                    float[] want = merged.readFloats(name);
                    float[] got = viaAdapter.readFloats(name);
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(want[i], got[i], 1e-6 * (1 + Math.abs(want[i])), e.name() + " " + name + "[" + i + "]");
                    }
                }
            }
            try (LanguageModel a = ModelSources.load(ModelSource.parse(adapted, conf), conf, cpu);
                 LanguageModel m = ModelSources.load(new ModelSource.MergeOnLoad(merge, yaml.toString(), point.seed()),
                         conf, cpu)) {
                for (String prompt : prompts) {
                    assertEquals(m.generate(List.of(prompt), greedy).get(0).outputIds(),
                            a.generate(List.of(prompt), greedy).get(0).outputIds(), e.name() + ": " + prompt);
                }
            }
        }

        String script = Files.readString(sweep.resolve(SweepAdapters.SERVE_SCRIPT));
        assertTrue(script.contains("exec vllm serve " + aligned + " --enable-lora --max-lora-rank 64 --max-loras 6"
                + " --lora-modules "), script);
        for (SweepAdapters.Entry e : written.entries()) {
            assertTrue(script.contains(" " + e.name() + "=" + e.path()), script);
        }
        assertEquals(6, Mappers.JSON.readTree(Files.readString(sweep.resolve(SweepAdapters.LIST_FILE))).size());

        Path first = Path.of(written.entries().get(0).path(), "adapter_model.safetensors");
        FileTime before = Files.getLastModifiedTime(first);
        SweepAdapters.write(spec.loraAdapters(), spec.aligned(), spec.finetuned(), points, spec.seed(),
                sweep.toString(), new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        assertEquals(before, Files.getLastModifiedTime(first), "a re-run keeps the adapters written");

        // the LoRA fine-tune trained again (rank 4 now): its scaled adapters follow, the full one's stay
        Path last = Path.of(written.entries().get(5).path(), "adapter_model.safetensors");
        FileTime fullBefore = Files.getLastModifiedTime(last);
        LoraExtraction.run(new LoraExtraction.Request(full, aligned, 4, rank8.toString(), true, ExtractionPlan.Svd.AUTO,
                TruncatedSvd.EXACT_LIMIT, LoraExtraction.Other.SAVE, LoraExtraction.Selection.DEFAULT,
                ExtractionPlan.Factors.DEFAULT, 0), new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        SweepAdapters.Written again = SweepAdapters.write(spec.loraAdapters(), spec.aligned(), spec.finetuned(), points,
                spec.seed(), sweep.toString(), new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        assertEquals(List.of(4, 4, 4), again.entries().subList(0, 3).stream().map(SweepAdapters.Entry::r).toList(),
                "the LoRA fine-tune's points scaled from its new adapter");
        assertEquals(fullBefore, Files.getLastModifiedTime(last), "the full fine-tune's adapters kept");
    }

    @Test
    void aFullFineTuneNeedsMaxRank() {
        SweepSpec spec = SweepSpec.parse(String.join("\n",
                "aligned: " + aligned,
                "finetuned: " + full,
                "grid: [{method: linear, ratios: [0.5]}]",
                "suite: " + root.resolve("conf/demo/suite.yaml"),
                "metrics: {safety: harmful/refusal_rate, task: task/exact_match}",
                "lora_adapters: {}",
                ""), "spec.yaml");
        BadInputException e = assertThrows(BadInputException.class, () -> SweepAdapters.write(spec.loraAdapters(),
                spec.aligned(), spec.finetuned(), spec.points("s", Map.of()), 0, tmp.resolve("s").toString(),
                new LocalExtractExecutor(1, conf, Progress.NONE), conf));
        assertTrue(e.getMessage().startsWith("lora_adapters.max_rank: required"), e.getMessage());
        BadInputException bad = assertThrows(BadInputException.class, () -> SweepSpec.parse(String.join("\n",
                "aligned: " + aligned, "finetuned: " + full, "grid: [{method: linear, ratios: [0.5]}]",
                "suite: x.yaml", "metrics: {safety: a/b, task: c/d}", "lora_adapters: {max_rank: 0}", ""), "spec.yaml"));
        assertTrue(bad.getMessage().contains("lora_adapters.max_rank"), bad.getMessage());
    }
}
