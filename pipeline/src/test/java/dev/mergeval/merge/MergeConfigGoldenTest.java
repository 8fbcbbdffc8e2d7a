package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Every case of {@code merge-config-golden/cases.txt} parsed, with what the config holds (value
 * types included) or the exact error, against {@code expected.txt}, written by the parser before
 * it was split into a record and a Jackson-bound parser: messages, their order of checks and the
 * normalized YAML are part of the CLI's contract.
 */
class MergeConfigGoldenTest {

    @Test
    void everyCaseParsesOrFailsExactlyAsRecorded() {
        String expected = resource("expected.txt");
        assertEquals(expected, render(resource("cases.txt")));
    }

    static String render(String cases) {
        StringBuilder out = new StringBuilder();
        cases(cases).forEach((name, yaml) -> {
            out.append("=== ").append(name).append('\n');
            try {
                MergeConfig c = MergeConfig.parse(yaml, name + ".yaml", "/cfg/dir/" + name + ".yaml");
                out.append("method: ").append(c.mergeMethod()).append('\n');
                out.append("base: ").append(c.baseModel()).append('\n');
                out.append("dtype: ").append(c.dtype()).append(' ').append(c.outDtype()).append(' ')
                        .append(c.tokenizerSource()).append('\n');
                out.append("inputs: ").append(c.inputModels()).append('\n');
                out.append("extras: ").append(c.extraModels()).append('\n');
                for (ParamDef def : c.method().parameters()) {
                    if (def.kind() == ParamDef.Kind.MODEL || def.kind() == ParamDef.Kind.FILE) {
                        if (c.parameters().containsKey(def.name())) {
                            out.append("resolved ").append(def.name()).append(": ").append(c.resolve(def.name()))
                                    .append('\n');
                        }
                    }
                }
                out.append("parameters: ").append(typed(c.parameters())).append('\n');
                for (ModelEntry m : c.models()) {
                    out.append("model ").append(m.model()).append(": ").append(typed(m.parameters()))
                            .append(" / ").append(typed(c.modelParameters(m.model()))).append('\n');
                }
                c.ignored().forEach(i -> out.append("ignored ").append(i).append('\n'));
                out.append(c.normalizedYaml());
            } catch (BadInputException e) {
                out.append("error: ").append(e.getMessage()).append('\n');
            }
        });
        return out.toString();
    }

    /** Values with their Java types, maps in sorted key order. */
    static String typed(Object v) {
        if (v instanceof Map<?, ?> m) {
            return m.keySet().stream().map(String::valueOf).sorted()
                    .map(k -> k + "=" + typed(m.get(k))).collect(Collectors.joining(", ", "{", "}"));
        }
        if (v instanceof List<?> l) {
            return l.stream().map(MergeConfigGoldenTest::typed).collect(Collectors.joining(", ", "[", "]"));
        }
        return v == null ? "null" : v.getClass().getSimpleName() + ":" + v;
    }

    static Map<String, String> cases(String text) {
        Map<String, String> cases = new LinkedHashMap<>();
        String name = null;
        StringBuilder yaml = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            if (line.startsWith("=== ")) {
                if (name != null) {
                    cases.put(name, yaml.toString());
                }
                name = line.substring(4);
                yaml.setLength(0);
            } else {
                yaml.append(line).append('\n');
            }
        }
        cases.put(name, yaml.toString());
        return cases;
    }

    static String resource(String name) {
        try (InputStream in = MergeConfigGoldenTest.class.getResourceAsStream("/merge-config-golden/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
