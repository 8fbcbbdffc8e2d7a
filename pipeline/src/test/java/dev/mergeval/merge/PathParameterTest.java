package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Path and name-list parameters: how they parse and where relative paths resolve. */
class PathParameterTest {

    private static final String SAFE_LORA = "merge_method: safe_lora\nbase_model: a\nmodels:\n  - model: f\nparameters:\n";

    @Test
    void relativePathsResolveAgainstTheConfigFile() {
        MergeConfig config = MergeConfig.parse(SAFE_LORA + "  unaligned_model: ../base\n", "c.yaml", "/x/conf/c.yaml");
        assertEquals(Map.of("unaligned_model", "../base"), config.extraModels());
        assertEquals("file:///x/base", config.resolve("unaligned_model"));
        assertEquals("hdfs://nn/x/base", MergeConfig.resolvePath("../base", "hdfs://nn/x/conf/c.yaml"));
        assertEquals("s3a://b/m", MergeConfig.resolvePath("s3a://b/m", "/x/conf/c.yaml"));
        assertEquals("file:///abs/m", MergeConfig.resolvePath("/abs/m", "/x/conf/c.yaml"));
        assertEquals("file:///x/conf/aligned+file:///x/adapter",
                MergeConfig.resolvePath("aligned+../adapter", "/x/conf/c.yaml"));
        String cwd = Path.of("").toAbsolutePath().resolve("m").toUri().toString();
        assertEquals(cwd, MergeConfig.parse(SAFE_LORA + "  unaligned_model: m\n", "c.yaml").resolve("unaligned_model"),
                "without a location, against the working directory");
    }

    /**
     * A local path with a {@code '+'} in a folder's name is one path where it exists; with an adapter
     * after it, it splits at that adapter's {@code '+'} only, as {@code Checkpoint.open} splits it.
     */
    @Test
    void aPlusInALocalFoldersNameIsKept(@org.junit.jupiter.api.io.TempDir Path tmp) throws java.io.IOException {
        Path base = java.nio.file.Files.createDirectories(tmp.resolve("my+base"));
        Path adapter = java.nio.file.Files.createDirectories(tmp.resolve("ad+1"));
        java.nio.file.Files.writeString(adapter.resolve("adapter_config.json"), "{}");
        String config = tmp.resolve("c.yaml").toString();
        String b = dev.mergeval.checkpoint.HadoopFs.location(base);
        assertTrue(b.endsWith("/my+base") || b.endsWith("/my+base/"), b);
        assertEquals(b, MergeConfig.resolvePath("my+base", config));
        assertEquals(b + "+" + dev.mergeval.checkpoint.HadoopFs.location(adapter),
                MergeConfig.resolvePath(base + "+ad+1", config));
        assertEquals(MergeConfig.resolvePath("my+base", config) + "+" + MergeConfig.resolvePath("ad+1", config) + "+"
                + MergeConfig.resolvePath("ad+1", config), MergeConfig.resolvePath("my+base+ad+1+ad+1", config),
                "adapters stack");
    }

    @Test
    void namesAreAListOrOneCommaSeparatedString() {
        MergeConfig list = MergeConfig.parse(SAFE_LORA + "  unaligned_model: u\n  target_modules: [q_proj, v_proj]\n", "c.yaml");
        MergeConfig text = MergeConfig.parse(SAFE_LORA + "  unaligned_model: u\n  target_modules: 'q_proj, v_proj'\n", "c.yaml");
        assertEquals(List.of("q_proj", "v_proj"), list.parameters().get("target_modules"));
        assertEquals(list.parameters(), text.parameters());
        assertEquals(list.normalizedYaml(), MergeConfig.parse(list.normalizedYaml(), "again").normalizedYaml());
    }

    @Test
    void malformedValuesNameTheirKey() {
        for (String bad : List.of("  unaligned_model: [u]\n", "  unaligned_model: 3\n",
                "  unaligned_model: u\n  target_modules: ',q_proj'\n", "  unaligned_model: u\n  target_modules: [1]\n",
                "  unaligned_model: u\n  target_modules: {q: 1}\n")) {
            BadInputException e = assertThrows(BadInputException.class, () -> MergeConfig.parse(SAFE_LORA + bad, "c.yaml"));
            assertTrue(e.getMessage().startsWith("c.yaml: parameters."), e.getMessage());
        }
        // Read past, as mergekit reads past what a method does not take: then the global one is missing.
        BadInputException e = assertThrows(BadInputException.class, () -> MergeConfig.parse(
                "merge_method: resta\nbase_model: a\nmodels:\n  - model: f\n    parameters: {unaligned_model: u}\n", "c.yaml"));
        assertEquals("c.yaml: parameters.unaligned_model: required by resta", e.getMessage());
    }
}
