package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mergekit-yaml command line runs as {@code mergeval merge}: its options with a counterpart here
 * act (shard size, tokenizer, model card, threads, mixed architectures), the others are named as
 * having no effect, and pickled output is refused.
 */
class MergekitYamlOptionsTest {

    @TempDir
    Path work;

    Path aligned = ProjectLayout.root().resolve("models/toy/aligned");
    Path finetuned = ProjectLayout.root().resolve("models/toy/finetuned");
    Path config;

    @BeforeEach
    void config() throws IOException {
        config = work.resolve("ties.yml");
        Files.writeString(config, "merge_method: ties\nbase_model: %s\nmodels:\n  - model: %s\n"
                .formatted(aligned, finetuned) + "    parameters: {weight: 1.0, density: 0.5}\n");
    }

    private static List<String> files(Path dir) throws IOException {
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aMergekitCommandLineRuns() throws IOException {
        Path out = work.resolve("out");
        CliRun r = CliRun.of("merge", config.toString(), out.toString(), "--cuda", "--lazy-unpickle", "--allow-crimes",
                "--copy-tokenizer", "--out-shard-size", "300K", "-j", "2", "--quiet", "--write-model-card",
                "--transformers-cache", work.resolve("cache").toString(), "--write-threads", "2");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.err().contains("--cuda, --device") && r.err().contains("--lazy-unpickle has no effect")
                && r.err().contains("--transformers-cache has no effect") && r.err().contains("--write-threads"), r.err());
        List<Path> shards;
        try (Stream<Path> list = Files.list(out)) {
            shards = list.filter(p -> p.toString().endsWith(".safetensors")).toList();
        }
        assertTrue(shards.size() >= 2, shards.toString());
        for (Path shard : shards) {
            assertTrue(Files.size(shard) <= 300_000 + 8 + 16_384, shard + " " + Files.size(shard));
        }
        List<String> files = files(out);
        assertTrue(files.containsAll(List.of("README.md", "tokenizer.json", "model.safetensors.index.json")), files.toString());

        Path bare = work.resolve("bare");
        r = CliRun.of("merge", config.toString(), bare.toString(), "--no-copy-tokenizer", "--no-write-model-card",
                "--num-threads", "1", "--quiet");
        assertEquals(0, r.rc(), r.err());
        assertEquals(List.of("config.json", "mergekit_config.yml", "mergeval_provenance.json", "model.safetensors"),
                files(bare));
    }

    @Test
    void aMergekitExtractLoraCommandLineRuns() throws IOException {
        Path out = work.resolve("adapter");
        CliRun r = CliRun.of("extract-lora", "--model", finetuned.toString(), "--base-model", aligned.toString(),
                "--out-path", out.toString(), "--cuda", "--lazy-unpickle", "--copy-tokenizer", "--allow-crimes",
                "-j", "2", "--quiet");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.err().contains("--lazy-unpickle has no effect")
                && r.err().contains("--allow-crimes have no effect on extract-lora"), r.err());
        assertFalse(r.err().contains("%"), "no progress bar: " + r.err());
        assertEquals(List.of("README.md", "adapter_config.json", "adapter_model.safetensors", "mergeval_provenance.json"),
                files(out));
        // mergekit's default rank, 128, keeps every singular value of these 64-row matrices.
        assertEquals(64, new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(out.resolve("adapter_config.json").toFile()).get("r").asInt());
        r = CliRun.of("extract-lora", "--model", finetuned.toString(), "--base-model", aligned.toString(),
                work.resolve("pickled").toString(), "--no-safe-serialization");
        assertEquals(2, r.rc(), r.err());
        assertFalse(Files.exists(work.resolve("pickled")));
    }

    @Test
    void pickledOutputAndTwoShardSizesAreRefused() {
        Path out = work.resolve("refused");
        CliRun r = CliRun.of("merge", config.toString(), out.toString(), "--no-safe-serialization");
        assertEquals(2, r.rc(), r.err());
        assertTrue(r.err().contains("--no-safe-serialization: Mergeval writes safetensors only"), r.err());
        r = CliRun.of("merge", config.toString(), out.toString(), "--max-shard-size", "1GB", "--out-shard-size", "1B");
        assertEquals(2, r.rc(), r.err());
        assertTrue(r.err().contains("--max-shard-size or --out-shard-size"), r.err());
        r = CliRun.of("merge", config.toString(), out.toString(), "--out-shard-size", "1.5B");
        assertEquals(2, r.rc(), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void theMergekitShardSizeCountsInThousandsMillionsAndBillions() {
        SizeConverter.Kmb kmb = new SizeConverter.Kmb();
        assertEquals(5_000_000_000L, kmb.convert("5B"));
        assertEquals(300_000L, kmb.convert("300k"));
        assertEquals(2_000_000L, kmb.convert("2M"));
        assertEquals(12_345L, kmb.convert("12345"));
    }
}
