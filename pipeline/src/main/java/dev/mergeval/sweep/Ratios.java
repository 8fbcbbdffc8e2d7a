package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The merge ratios {@code l} of one grid entry, each in [0, 1], distinct, in the order given. In
 * YAML either a list ({@code [0.1, 0.5]}) or a range {@code {from: 0, to: 1, step: 0.1}}, which
 * expands to {@code from + i*step} for {@code i = 0, 1, ...} while {@code <= to}, computed in
 * decimal so that 0.1 steps give 0.3, not 0.30000000000000004.
 */
public record Ratios(List<Double> values) {
    /** A range expanding to more values than this is refused (a typo such as step 0.0001). */
    public static final int MAX_VALUES = 1000;

    public Ratios {
        if (values == null || values.isEmpty()) {
            throw new BadInputException("ratios: must list at least one ratio");
        }
        Set<Double> seen = new HashSet<>();
        for (int i = 0; i < values.size(); i++) {
            Double v = values.get(i);
            if (v == null || !(v >= 0 && v <= 1)) {
                throw new BadInputException("ratios[" + i + "]: must be a number in [0, 1] (got " + v + ")");
            }
            if (!seen.add(v)) {
                throw new BadInputException("ratios[" + i + "]: " + v + " is listed twice");
            }
        }
        values = List.copyOf(values);
    }

    public static Ratios of(double... values) {
        List<Double> list = new ArrayList<>();
        for (double v : values) {
            list.add(v);
        }
        return new Ratios(list);
    }

    /** {@code from, from+step, ...} up to {@code to} inclusive (within 1e-9 of a step). */
    public static Ratios range(double from, double to, double step) {
        if (!Double.isFinite(from)) {
            throw new BadInputException("ratios.from: must be a finite number (got " + from + ")");
        }
        if (!(step > 0 && step < Double.POSITIVE_INFINITY)) {
            throw new BadInputException("ratios.step: must be a finite number > 0 (got " + step + ")");
        }
        if (!(to >= from && to < Double.POSITIVE_INFINITY)) {
            throw new BadInputException("ratios.to: must be a finite number >= from (" + from + "), got " + to);
        }
        BigDecimal f = BigDecimal.valueOf(from);
        BigDecimal s = BigDecimal.valueOf(step);
        BigDecimal t = BigDecimal.valueOf(to);
        List<Double> list = new ArrayList<>();
        for (int i = 0; ; i++) {
            BigDecimal v = f.add(s.multiply(BigDecimal.valueOf(i)));
            if (v.subtract(t).doubleValue() > 1e-9) {
                break;
            }
            if (list.size() == MAX_VALUES) {
                throw new BadInputException("ratios: the range expands to more than " + MAX_VALUES + " values");
            }
            list.add(v.doubleValue());
        }
        return new Ratios(list);
    }

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static Ratios fromJson(JsonNode node) {
        if (node.isArray()) {
            List<Double> list = new ArrayList<>();
            for (int i = 0; i < node.size(); i++) {
                list.add(number(node.get(i), "ratios[" + i + "]"));
            }
            return new Ratios(list);
        }
        if (node.isObject()) {
            Iterator<String> names = node.fieldNames();
            while (names.hasNext()) {
                String k = names.next();
                if (!Set.of("from", "to", "step").contains(k)) {
                    throw new BadInputException("ratios." + k + ": unknown key (a range has from, to, step)");
                }
            }
            return range(required(node, "from"), required(node, "to"), required(node, "step"));
        }
        if (node.isNumber()) {
            return new Ratios(List.of(node.doubleValue()));
        }
        throw new BadInputException("ratios: must be a list of numbers or {from, to, step}");
    }

    private static double required(JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            throw new BadInputException("ratios." + key + ": required in a range");
        }
        return number(v, "ratios." + key);
    }

    private static double number(JsonNode v, String key) {
        if (v.isNumber()) {
            return v.doubleValue();
        }
        if (v.isTextual()) {
            try {
                return Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new BadInputException(key + ": must be a number (got '" + v.asText() + "')");
    }

    @JsonValue
    List<Double> json() {
        return values;
    }
}
