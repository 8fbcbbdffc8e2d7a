package dev.mergeval.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.MergeMethods;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every registered method (and an unknown one) as a sweep grid entry under a set of parameter
 * grids, with and without ratios: the exact error, or each point's mergekit YAML, id, variant and
 * label, against {@code sweep-mapping-golden.txt}, written when the ratio mapping still listed the
 * methods by name. The generated configs and the messages are part of a sweep's contract.
 */
class SweepMappingGoldenTest {

    private static final List<Map<String, List<Object>>> GRIDS = List.of(
            Map.of(),
            Map.of("weight", List.of(0.5)),
            Map.of("t", List.of(0.3)),
            Map.of("normalize", List.of(true)),
            Map.of("normalize", List.of(false), "lambda", List.of(1.5)),
            Map.of("density", List.of(0.3, 0.7)),
            Map.of("density", List.of(-0.5)),
            Map.of("rescale_mode", List.of("l1", "l2")),
            Map.of("nuslerp_row_wise", List.of(true)),
            Map.of("unaligned_model", List.of("models/base")),
            Map.of("unaligned_model", List.of("models/base"), "num_proj_layers", List.of(2, 4)),
            Map.of("unaligned_model", List.of("models/base"), "num_proj_layers", List.of(2, 4),
                    "select_layers_type", List.of("threshold")),
            Map.of("unaligned_model", List.of("models/base"), "threshold", List.of(0.1, 0.2),
                    "select_layers_type", List.of("threshold")),
            Map.of("unaligned_model", List.of("models/base"), "threshold", List.of(0.1, 0.2)),
            Map.of("unaligned_model", List.of("models/base"), "target_modules", List.of("q_proj", "v_proj")),
            Map.of("unaligned_model", List.of("models/base"), "scale", List.of(0.5, 1.0)),
            Map.of("safety_data", List.of("data/s.jsonl"), "rank", List.of(2, 4)),
            Map.of("safety_data", List.of("data/s.jsonl")));

    @Test
    void everyMethodAndGridMapsExactlyAsRecorded() {
        assertEquals(resource(), render());
    }

    static String render() {
        StringBuilder out = new StringBuilder();
        List<String> methods = new ArrayList<>(MergeMethods.names());
        methods.add("bogus");
        for (String method : methods) {
            for (Map<String, List<Object>> grid : GRIDS) {
                for (Ratios ratios : java.util.Arrays.asList(Ratios.of(0.0, 0.3, 1.0), null)) {
                    out.append("=== ").append(method).append(' ').append(new java.util.TreeMap<>(grid))
                            .append(ratios == null ? " no ratios" : " ratios").append('\n');
                    try {
                        MethodGrid g = new MethodGrid(method, ratios, new java.util.TreeMap<>(grid));
                        out.append("paths: ").append(g.pathParameters()).append('\n');
                        for (Map<String, Object> variant : g.variants()) {
                            for (Double ratio : g.ratioValues()) {
                                SweepPoint p = SweepPoint.merge(method, "models/aligned", "models/ft", ratio, variant,
                                        1234, "suite");
                                out.append("--- ").append(p.id()).append(" | ").append(p.variant()).append(" | ")
                                        .append(p.label()).append('\n').append(p.toMergekitYaml());
                            }
                        }
                    } catch (BadInputException e) {
                        out.append("error: ").append(e.getMessage()).append('\n');
                    }
                }
            }
        }
        return out.toString();
    }

    static String resource() {
        try (InputStream in = SweepMappingGoldenTest.class.getResourceAsStream("/sweep-mapping-golden.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
