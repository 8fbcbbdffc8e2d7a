package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One entry of the sweep grid: a merge method, its ratios, and method parameters to cross. In YAML
 * <pre>
 *   - method: ties
 *     ratios: {from: 0.1, to: 0.9, step: 0.1}
 *     parameters: {density: [0.3, 0.7], lambda: 1.0}
 * </pre>
 * A parameter given as a list is swept (every combination of the listed values is a variant, so
 * mergekit's layer gradients cannot be written here); a single value is fixed, and a module-name
 * list ({@code target_modules}) is one value. How the ratio enters each method is
 * {@link RatioMapping}'s documented mapping. The post-hoc safety methods take no ratios; their knob
 * is a listed parameter:
 * <pre>
 *   - method: safe_lora
 *     finetuned: [models/toy/finetuned]
 *     parameters: {unaligned_model: models/toy/base, num_proj_layers: [2, 4, 6]}
 * </pre>
 *
 * @param parameters parameter name to the values to cross, names sorted; numbers as doubles
 * @param finetuned  the fine-tunes (as listed in the spec's {@code finetuned}) this entry applies
 *                   to; null for all (an empty list would restrict it to none, so it is refused)
 */
public record MethodGrid(@JsonProperty("method") String method, @JsonProperty("ratios") Ratios ratios,
                         @JsonProperty("parameters") Map<String, List<Object>> parameters,
                         @JsonProperty("finetuned") @JsonInclude(JsonInclude.Include.NON_EMPTY)
                         List<String> finetuned) {

    public MethodGrid {
        if (method == null || method.isBlank()) {
            throw new BadInputException("method: required (one of " + String.join(", ", RatioMapping.methods()) + ")");
        }
        boolean postHoc = RatioMapping.postHoc(method);
        if (ratios == null && !postHoc) {
            throw new BadInputException("ratios: required for method " + method);
        }
        if (ratios != null && postHoc) {
            throw new BadInputException("ratios: " + method + " is applied to the whole fine-tune and takes no"
                    + " ratio; sweep its knob (" + String.join(" or ", RatioMapping.knobs(method))
                    + ") by listing values under parameters");
        }
        if (finetuned != null && finetuned.isEmpty()) {
            throw new BadInputException("finetuned: must list at least one of the spec's finetuned models"
                    + " (leave the key out for all of them)");
        }
        finetuned = finetuned == null ? null : List.copyOf(finetuned);
        Map<String, List<Object>> norm = new TreeMap<>();
        if (parameters != null) {
            for (Map.Entry<String, List<Object>> e : parameters.entrySet()) {
                String key = "parameters." + e.getKey();
                List<Object> values = e.getValue();
                if (values != null && values.size() > 1 && RatioMapping.isNames(method, e.getKey())) {
                    values = List.of(String.join(",", values.stream().map(String::valueOf).toList()));
                }
                if (values == null || values.isEmpty()) {
                    throw new BadInputException(key + ": needs a value or a non-empty list of values");
                }
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < values.size(); i++) {
                    Object v = values.get(i);
                    if (v instanceof Number n) {
                        v = n.doubleValue();
                    } else if (!(v instanceof Boolean) && !(v instanceof String)) {
                        throw new BadInputException(key + "[" + i + "]: must be a number, true/false or a string");
                    }
                    if (out.contains(v)) {
                        throw new BadInputException(key + "[" + i + "]: " + v + " is listed twice");
                    }
                    out.add(v);
                }
                norm.put(e.getKey(), List.copyOf(out));
            }
        }
        RatioMapping.check(method, norm);
        parameters = Collections.unmodifiableMap(norm);
        // Fields are assigned after the compact constructor, so cross the local map.
        for (Map<String, Object> variant : cross(parameters)) {
            RatioMapping.checkWithEngine(method, variant);
        }
    }

    public MethodGrid(String method, Ratios ratios) {
        this(method, ratios, Map.of(), null);
    }

    public MethodGrid(String method, Ratios ratios, Map<String, List<Object>> parameters) {
        this(method, ratios, parameters, null);
    }

    /** The ratios to evaluate; one null "ratio" for a post-hoc method, which has none. */
    public List<Double> ratioValues() {
        if (ratios == null) {
            return java.util.Collections.singletonList(null);
        }
        return ratios.values().stream().map(Double::valueOf).toList();
    }

    /** The method's parameters that name a model or a file, resolved against the spec's directory. */
    public List<String> pathParameters() {
        return RatioMapping.pathParameters(method);
    }

    /** Whether this entry applies to fine-tune {@code ft}. */
    public boolean appliesTo(String ft) {
        return finetuned == null || finetuned.contains(ft);
    }

    /**
     * Every combination of the parameter values, names in sorted order and, within a name, values in
     * the order given; one empty map when no parameters are set.
     */
    public List<Map<String, Object>> variants() {
        return cross(parameters);
    }

    private static List<Map<String, Object>> cross(Map<String, List<Object>> parameters) {
        List<Map<String, Object>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (Map.Entry<String, List<Object>> e : parameters.entrySet()) {
            List<Map<String, Object>> next = new ArrayList<>();
            for (Map<String, Object> partial : out) {
                for (Object v : e.getValue()) {
                    Map<String, Object> m = new LinkedHashMap<>(partial);
                    m.put(e.getKey(), v);
                    next.add(m);
                }
            }
            out = next;
        }
        List<Map<String, Object>> frozen = new ArrayList<>();
        out.forEach(m -> frozen.add(Collections.unmodifiableMap(m)));
        return frozen;
    }
}
