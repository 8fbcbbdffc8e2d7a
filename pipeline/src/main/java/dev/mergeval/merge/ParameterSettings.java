package dev.mergeval.merge;

import java.util.List;
import java.util.Map;

/**
 * Evaluates one parameter setting for one tensor, exactly as mergekit's
 * {@code config.evaluate_setting}:
 * <ul>
 *   <li>a scalar is returned as is;</li>
 *   <li>for a numeric parameter, a list is a gradient: with {@code s = t * (len - 1)},
 *       {@code i0 = floor(s)}, {@code i1 = min(len - 1, i0 + 1)}, the value is
 *       {@code (1 - (s - i0)) * v[i0] + (s - i0) * v[i1]};</li>
 *   <li>for a boolean parameter, a list of booleans (and numbers) is a gradient too, {@code false}
 *       and {@code true} counting as 0 and 1 (Python's {@code bool} is an {@code int}, and mergekit's
 *       config types parse them as floats); the caller decides what a value between them means
 *       ({@link TensorMerger});</li>
 *   <li>any other list (strings) picks {@code v[floor(t * (len - 1))]};</li>
 *   <li>a list of {@code {filter, value}} conditions returns the first whose filter is absent,
 *       {@code "*"}, or a substring of the tensor name, evaluated recursively; none matching
 *       gives {@code null}, so the caller falls back to the next scope.</li>
 * </ul>
 * Paths and name lists ({@link ParamDef.Kind#wholeMerge()}) are returned as they are.
 */
final class ParameterSettings {
    private ParameterSettings() {
    }

    /** The value of {@code setting} for {@code tensorName} at gradient position {@code t}, or null. */
    public static Object evaluate(String tensorName, Object setting, double t, ParamDef.Kind kind) {
        if (kind.wholeMerge()) {
            return setting;
        }
        if (setting instanceof Map<?, ?> single) {
            return evaluate(tensorName, List.of(single), t, kind);
        }
        if (!(setting instanceof List<?> list)) {
            return setting;
        }
        boolean numbers = list.stream().allMatch(e -> e instanceof Number)
                || (kind == ParamDef.Kind.BOOLEAN && list.stream().allMatch(e -> e instanceof Number || e instanceof Boolean));
        if ((kind == ParamDef.Kind.NUMBER || kind == ParamDef.Kind.BOOLEAN) && numbers) {
            double scaled = t * (list.size() - 1);
            int i0 = (int) scaled;
            int i1 = Math.min(list.size() - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * number(list.get(i0)) + frac * number(list.get(i1));
        }
        if (list.stream().noneMatch(e -> e instanceof Map)) {
            return list.get((int) (t * (list.size() - 1)));
        }
        for (Object element : list) {
            Map<?, ?> cond = (Map<?, ?>) element;
            Object filter = cond.get("filter");
            if (filter == null || "*".equals(filter)
                    || (tensorName != null && !tensorName.isEmpty() && tensorName.contains((String) filter))) {
                return evaluate(tensorName, cond.get("value"), t, kind);
            }
        }
        return null;
    }

    private static double number(Object element) {
        return element instanceof Boolean b ? (b ? 1 : 0) : ((Number) element).doubleValue();
    }
}
