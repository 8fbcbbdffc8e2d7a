package dev.mergeval.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeMethods;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.SweepMapping.Knob;
import dev.mergeval.merge.SweepMapping.Shape;
import java.math.BigDecimal;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * How a sweep ratio {@code l} (0 = the aligned model, 1 = the fine-tuned one) becomes a mergekit
 * config, the aligned model being {@code A} and the fine-tune {@code F}: each method declares the
 * shape of its mapping ({@link MergeMethod#sweepMapping()}, see {@link SweepMapping.Shape}); this
 * class writes the config of each shape:
 * <ul>
 *   <li>{@link Shape#WEIGHTED_PAIR} (linear, nuslerp): models A with weight {@code 1-l}, F with
 *       weight {@code l}, no base (so nuslerp's {@code t = w_F / (w_A + w_F) = l});</li>
 *   <li>{@link Shape#INTERPOLATION} (slerp): {@code base_model: A}, models A and F, {@code t = l};</li>
 *   <li>{@link Shape#TASK_VECTOR} (the task-arithmetic family): {@code base_model: A}, model F with
 *       weight {@code l}, so {@code y = A + l * sparsify(F - A)}. {@code normalize} is set to false:
 *       with a single fine-tune, normalising divides by the weight and the ratio would cancel out,
 *       so {@code normalize: true} is refused;</li>
 *   <li>{@link Shape#POST_HOC} (the post-hoc safety methods) take no ratio: {@code base_model: A},
 *       model F, and the grid's parameters under {@code parameters}; their knob ({@link #knobs}) is
 *       swept by listing its values.</li>
 * </ul>
 * Grid parameters go where the method declares them: global ones (e.g. {@code lambda},
 * {@code rescale}) under {@code parameters}, per-model ones (e.g. {@code density}) on F.
 */
final class RatioMapping {

    private static final ObjectMapper YAML = Mappers.YAML;

    private RatioMapping() {
    }

    /** Method names a sweep grid accepts, in registry order. */
    static List<String> methods() {
        return MergeMethods.names().stream().filter(m -> mapping(m).isPresent()).toList();
    }

    /** True for a method applied to the fine-tune as a whole, with no ratio (a post-hoc safety method). */
    static boolean postHoc(String method) {
        return mapping(method).map(SweepMapping::postHoc).orElse(false);
    }

    /** The post-hoc method's knob parameters; empty for ratio-swept methods. */
    static List<String> knobs(String method) {
        return mapping(method).map(m -> m.knobs().stream().map(Knob::name).toList()).orElse(List.of());
    }

    /** How {@code method} declares it is swept; empty for an unknown method or one that cannot be. */
    private static Optional<SweepMapping> mapping(String method) {
        return MergeMethods.find(method).flatMap(MergeMethod::sweepMapping);
    }

    /** True when {@code param} of {@code method} is a list of module names, given whole rather than swept. */
    static boolean isNames(String method, String param) {
        ParamDef d = MergeMethods.find(method).map(m -> find(m.parameters(), param)).orElse(null);
        return d != null && d.kind() == ParamDef.Kind.NAMES;
    }

    /** Parameters of {@code method} that name a model or a file (resolved against the spec's directory). */
    static List<String> pathParameters(String method) {
        return MergeMethods.find(method).map(m -> m.parameters().stream()
                .filter(d -> d.kind() == ParamDef.Kind.MODEL || d.kind() == ParamDef.Kind.FILE)
                .map(ParamDef::name).toList()).orElse(List.of());
    }

    /** Checks that {@code method} is sweepable and {@code params} are its, with none the ratio sets. */
    static void check(String method, Map<String, ?> params) {
        SweepMapping mapping = mapping(method).orElseThrow(() -> new BadInputException("method: '" + method
                + "' cannot be swept (supported: " + String.join(", ", methods()) + ")"));
        Shape shape = mapping.shape();
        String reserved = shape.ratioParameter();
        MergeMethod m = MergeMethods.find(method).orElseThrow();
        for (Map.Entry<String, ?> e : params.entrySet()) {
            String name = e.getKey();
            String pkey = "parameters." + name;
            if (name.equals(reserved)) {
                throw new BadInputException(pkey + ": set by the ratio; do not give it");
            }
            if (find(m.parameters(), name) == null && find(m.tensorParameters(), name) == null) {
                throw new BadInputException(pkey + ": not a parameter of " + method);
            }
            if (shape == Shape.TASK_VECTOR && name.equals("normalize") && e.getValue() instanceof List<?> values
                    && values.contains(Boolean.TRUE)) {
                throw new BadInputException(pkey + ": true would divide by the fine-tune's weight, so the ratio"
                        + " would have no effect; leave it out (it is set to false)");
            }
        }
        for (Knob k : mapping.knobs()) {
            if (k.mode() == null || !(params.get(k.name()) instanceof List<?> values) || values.size() < 2) {
                continue;
            }
            boolean given = params.get(k.mode()) instanceof List<?>;
            List<?> modes = given ? (List<?>) params.get(k.mode())
                    : Collections.singletonList(find(m.parameters(), k.mode()).defaultValue());
            for (Object mode : modes) {
                if (!k.modeValue().equals(mode)) {
                    throw new BadInputException("parameters." + k.name() + ": swept, but " + method + " reads it only"
                            + " with " + k.mode() + ": " + k.modeValue() + " (this entry has " + mode
                            + (given ? "" : ", the default") + "), so every value would give the same model; set "
                            + k.mode() + ": " + k.modeValue() + ", or write one grid entry per " + k.mode());
                }
            }
        }
    }

    /** {@link #config} as mergekit YAML. */
    static String yaml(String method, String aligned, String finetuned, Double l, Map<String, Object> params,
            Map<String, String> options) {
        try {
            return YAML.writeValueAsString(config(method, aligned, finetuned, l, params, options));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a mergekit config for " + method, e);
        }
    }

    /**
     * Checks a parameter variant the way the merge engine will, on a stand-in pair of models, so that
     * a bad value (a negative density, an unknown rescale mode) is reported when the spec is read.
     */
    static void checkWithEngine(String method, Map<String, Object> variant) {
        try {
            MergeConfig.parse(yaml(method, "aligned", "finetuned", 0.5, variant, Map.of()), method);
        } catch (BadInputException e) {
            throw new BadInputException("parameters: " + variant + " is refused by the merge engine: " + e.getMessage());
        }
    }

    /**
     * The mergekit config (as YAML-ready maps) of {@code method} at ratio {@code l}, with the
     * sweep's top-level merge settings {@code options} ({@code tokenizer_source}, {@code chat_template}).
     */
    static Map<String, Object> config(String method, String aligned, String finetuned, Double l,
            Map<String, Object> params, Map<String, String> options) {
        MergeMethod m = MergeMethods.find(method).orElseThrow();
        Shape shape = m.sweepMapping().orElseThrow().shape();
        Map<String, Object> global = new TreeMap<>();
        Map<String, Object> onFinetuned = new TreeMap<>();
        params.forEach((name, value) -> {
            if (find(m.tensorParameters(), name) != null) {
                onFinetuned.put(name, value);
            } else {
                global.put(name, value);
            }
        });
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("merge_method", method);
        List<Map<String, Object>> models;
        switch (shape) {
            case WEIGHTED_PAIR:
                onFinetuned.put("weight", l);
                // 1 - l in decimal, so that l = 0.7 gives the weight 0.3 that a person would write.
                double rest = BigDecimal.ONE.subtract(BigDecimal.valueOf(l)).doubleValue();
                models = List.of(entry(aligned, Map.of("weight", rest)), entry(finetuned, onFinetuned));
                break;
            case INTERPOLATION:
                root.put("base_model", aligned);
                global.put("t", l);
                models = List.of(entry(aligned, Map.of()), entry(finetuned, onFinetuned));
                break;
            case TASK_VECTOR:
                root.put("base_model", aligned);
                global.put("normalize", false);
                onFinetuned.put("weight", l);
                models = List.of(entry(finetuned, onFinetuned));
                break;
            case POST_HOC:
                root.put("base_model", aligned);
                models = List.of(entry(finetuned, onFinetuned));
                break;
            default:
                throw new IllegalStateException(shape.name());
        }
        root.put("models", models);
        if (!global.isEmpty()) {
            root.put("parameters", global);
        }
        root.putAll(options);
        return root;
    }

    private static Map<String, Object> entry(String model, Map<String, Object> params) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("model", model);
        if (!params.isEmpty()) {
            e.put("parameters", new TreeMap<>(params));
        }
        return e;
    }

    private static ParamDef find(List<ParamDef> defs, String name) {
        return defs.stream().filter(d -> d.name().equals(name)).findFirst().orElse(null);
    }
}
