package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The architecture definition mergekit picks for a model ({@code arch_info_for_config} in its
 * {@code architecture/__init__.py}), from the table of its definitions
 * ({@code mergekit-architectures.tsv}, written by {@code docs/checks/mergekit_architectures.sh}):
 * the one definition that lists the model's {@code architectures[0]}, or, where several do (two for
 * {@code PhiForCausalLM}), the one whose {@code model_type} is the model's. mergekit refuses to mix
 * models of different definitions without {@code --allow-crimes}; a model it has no definition for
 * has its layout inferred from the tensors, and then nothing is compared.
 */
public final class MergekitArchitectures {

    /** One of mergekit's definitions: its file (or class) and the {@code model_type} it expects. */
    public record Definition(String name, String modelType) {
    }

    private static final String TABLE = "/dev/mergeval/merge/mergekit-architectures.tsv";
    private static final String IN_CODE = "moe_defs.";
    private static final Map<String, List<Definition>> BY_ARCHITECTURE = load();

    private MergekitArchitectures() {
    }

    /** mergekit's definition for a model with this {@code config.json}, or empty where it has none. */
    public static Optional<Definition> of(ObjectNode config) {
        JsonNode names = config == null ? null : config.path("architectures");
        if (names == null || !names.isArray() || names.isEmpty()) {
            return Optional.empty();
        }
        List<Definition> candidates = BY_ARCHITECTURE.getOrDefault(names.get(0).asText(), List.of());
        if (candidates.size() == 1) {
            return Optional.of(candidates.get(0));
        }
        String modelType = config.path("model_type").asText(null);
        return candidates.stream().filter(d -> d.modelType().equals(modelType)).findFirst();
    }

    private static Map<String, List<Definition>> load() {
        Map<String, List<Definition>> byName = new HashMap<>();
        for (String[] f : rows(TABLE)) {
            Definition d = new Definition(f[0], f[1]);
            for (String architecture : f[2].split(",")) {
                // mergekit looks up the definitions it builds in code before its JSON files;
                // the table lists them last, so they replace any file's.
                if (d.name().startsWith(IN_CODE)) {
                    byName.put(architecture, List.of(d));
                } else {
                    byName.computeIfAbsent(architecture, k -> new ArrayList<>()).add(d);
                }
            }
        }
        return byName;
    }

    /**
     * The rows of a tab-separated table written from mergekit's definitions (a class-path
     * resource), each as its fields, empty ones kept; lines starting with {@code #} are comments.
     */
    static List<String[]> rows(String resource) {
        List<String[]> rows = new ArrayList<>();
        try (InputStream in = MergekitArchitectures.class.getResourceAsStream(resource);
                BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = lines.readLine()) != null; ) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    rows.add(line.split("\t", -1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
        return rows;
    }
}
