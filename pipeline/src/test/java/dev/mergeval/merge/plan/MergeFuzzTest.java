package dev.mergeval.merge.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.bench.SyntheticModels;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.merge.ConfigMutations;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of whole merge configs ({@code merge-fuzz/seeds.yml}: every method family,
 * slices, modules, tokenizer settings), merged against real tiny checkpoints: each merges and
 * publishes a complete output, or fails as bad input in one line naming the config, leaving
 * nothing where its output would have gone. {@code ConfigFuzzTest} mutates for the parser alone;
 * these reach planning, the methods' checks and the writers.
 */
class MergeFuzzTest {
    private static final int CASES = 300;
    private static final Configuration CONF = new Configuration();
    /** The mutations' values: numbers at and beyond the limits, wrong kinds, methods, dtypes, models. */
    private static final String[] VALUES = {"-1", "0", "0.5", "1", "2", "1e309", ".nan", "-.inf", "abc", "[]", "{}",
        "[1, \"x\"]", "null", "~", "true", "\"0.5\"", "{filter: mlp}", "[[0, 1]]", "2147483648",
        "123456789012345678901234567890", "[0]", "[5, 2]", "[0, 1, 2]", "[0, 2]", "[1, 3]", "[2, 4]", "[0, 4]",
        "[3, 4]", "[0.1, 0.9]", "''", "{value: [0, 1]}", "- 1", "A", "B", "C", "BASE", "VL1", "VL2", "linear", "ties",
        "slerp", "passthrough", "dare_ties", "della", "sce", "karcher", "multislerp", "nearswap", "arcee_fusion", "ram",
        "model_stock", "nuslerp", "breadcrumbs_ties", "task_arithmetic", "bfloat16", "float16", "float32", "union",
        "base"};
    private static final Pattern NAME = Pattern.compile("(?<=[ :\\[,])(A|B|C|BASE|VL1|VL2)(?=[\\s,\\]}]|$)");

    @TempDir
    static Path dir;

    @Test
    void mutatedConfigsMergeOrFailCleanly() throws IOException {
        Map<String, String> models = models();
        List<String> seeds = List.of(resource().split("\n---\n"));
        SplittableRandom random = new SplittableRandom(20261207L);
        int merged = 0;
        for (int c = 0; c < CASES; c++) {
            String seed = seeds.get(random.nextInt(seeds.size()));
            String yaml = withPaths(ConfigMutations.mutate(seed, random, VALUES), models);
            String name = "case" + c + ".yml";
            Path parent = Files.createDirectories(dir.resolve("runs").resolve("case" + c));
            Path out = parent.resolve("out");
            try {
                MergeJob.run(new MergeJob.Request(name, yaml, out.toString(), 0, false, PlanOptions.defaults()),
                        new LocalMergeExecutor(2, CONF, Progress.NONE), CONF);
                assertTrue(Files.isRegularFile(out.resolve(OutputPublisher.PROVENANCE_FILE)), "published whole:\n" + yaml);
                merged++;
            } catch (BadInputException e) {
                assertTrue(e.getMessage().startsWith(name + ":") && !e.getMessage().contains("\n"),
                        "one line naming the config: " + e.getMessage() + "\n" + yaml);
                try (Stream<Path> left = Files.list(parent)) {
                    assertEquals(List.of(), left.toList(), "nothing left by " + e.getMessage() + "\n" + yaml);
                }
            } catch (RuntimeException e) {
                throw new AssertionError("not a bad-input error for\n" + yaml, e);
            }
        }
        // Many mutations keep a config that merges (a weight changed, a line repeated).
        assertTrue(merged > CASES / 20 && merged < CASES, merged + " of " + CASES + " merged");
    }

    /** The seeds' models: four tiny Llamas (three dtypes, one sharded) and two vision-language models. */
    private static Map<String, String> models() {
        ObjectNode config = TinyModels.llamaConfig();
        config.put("num_hidden_layers", 4);
        config.put("tie_word_embeddings", false);
        Map<String, String> paths = new LinkedHashMap<>();
        paths.put("BASE", TinyModels.write(dir.resolve("base"), config, DType.BF16, 1, 20_000).toString());
        paths.put("A", TinyModels.write(dir.resolve("a"), config, DType.BF16, 2, Long.MAX_VALUE).toString());
        paths.put("B", TinyModels.write(dir.resolve("b"), config, DType.F32, 3, Long.MAX_VALUE).toString());
        paths.put("C", TinyModels.write(dir.resolve("c"), config, DType.F16, 4, Long.MAX_VALUE).toString());
        for (int k = 1; k <= 2; k++) {
            String vl = dir.resolve("vl" + k).toString();
            SyntheticModels.writeVisionLanguage(vl, 4, 2, 4 + k, CONF);
            paths.put("VL" + k, vl);
        }
        return paths;
    }

    private static String withPaths(String yaml, Map<String, String> models) {
        return NAME.matcher(yaml).replaceAll(m -> Matcher.quoteReplacement(models.get(m.group(1))));
    }

    private static String resource() throws IOException {
        try (InputStream in = MergeFuzzTest.class.getResourceAsStream("/merge-fuzz/seeds.yml")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
