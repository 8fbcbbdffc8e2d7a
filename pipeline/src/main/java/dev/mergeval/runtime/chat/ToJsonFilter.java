package dev.mergeval.runtime.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.util.ObjectTruthValue;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face's {@code tojson}: {@code json.dumps(x, ensure_ascii=False, indent=None,
 * separators=None, sort_keys=False)} with those four arguments, by keyword or in that order.
 * Jinjava's own filter writes compact JSON (no spaces after {@code ,} and {@code :}) and ignores
 * {@code indent}, so tool schemas rendered into a prompt differ from HF's.
 */
final class ToJsonFilter implements Filter {

    private static final List<String> PARAMETERS = List.of("ensure_ascii", "indent", "separators", "sort_keys");

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return filter(var, interpreter, args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object[] values = new Object[PARAMETERS.size()];
        if (args.length > values.length) {
            throw failure("takes at most 4 arguments after the value");
        }
        System.arraycopy(args, 0, values, 0, args.length);
        for (Map.Entry<String, Object> kw : kwargs.entrySet()) {
            int at = PARAMETERS.indexOf(kw.getKey());
            if (at < 0) {
                throw failure("got an unexpected keyword argument '" + kw.getKey() + "'");
            }
            values[at] = kw.getValue();
        }
        Object indent = values[1];
        String indentText;
        if (indent == null || indent instanceof CharSequence) {
            indentText = indent == null ? null : indent.toString();
        } else if (indent instanceof Number n) {
            indentText = " ".repeat(Math.max(0, n.intValue()));
        } else {
            throw failure("indent must be a number or a string, not " + indent.getClass().getSimpleName());
        }
        String itemSeparator = indentText == null ? ", " : ",";
        String keySeparator = ": ";
        if (values[2] != null) {
            if (!(values[2] instanceof List<?> pair) || pair.size() != 2) {
                throw failure("separators must be a pair of strings");
            }
            itemSeparator = String.valueOf(pair.get(0));
            keySeparator = String.valueOf(pair.get(1));
        }
        Writer w = new Writer(ObjectTruthValue.evaluate(values[0]), indentText, itemSeparator, keySeparator,
                ObjectTruthValue.evaluate(values[3]));
        w.value(var, 0);
        return w.out.toString();
    }

    private static ChatTemplate.TemplateFailure failure(String message) {
        return new ChatTemplate.TemplateFailure("tojson: " + message);
    }

    /** Python's json encoder, for the types Jinjava hands a filter. */
    private record Writer(boolean ensureAscii, String indent, String itemSeparator, String keySeparator,
            boolean sortKeys, StringBuilder out) {

        Writer(boolean ensureAscii, String indent, String itemSeparator, String keySeparator, boolean sortKeys) {
            this(ensureAscii, indent, itemSeparator, keySeparator, sortKeys, new StringBuilder());
        }

        void value(Object v, int level) {
            if (v instanceof SafeString || v instanceof CharSequence || v instanceof Character) {
                string(v.toString());
            } else if (v instanceof Map<?, ?> map) {
                List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
                if (sortKeys) {
                    entries.sort((a, b) -> compareKeys(a.getKey(), b.getKey()));
                }
                container('{', '}', entries, level, (e, l) -> {
                    string(key(e.getKey()));
                    out.append(keySeparator);
                    value(e.getValue(), l);
                });
            } else if (v instanceof Collection<?> items) {
                container('[', ']', new ArrayList<>(items), level, this::value);
            } else if (v instanceof Object[] items) {
                container('[', ']', List.of(items), level, this::value);
            } else {
                out.append(scalar(v));
            }
        }

        private <T> void container(char open, char close, List<T> items, int level, Item<T> item) {
            out.append(open);
            if (items.isEmpty()) {
                out.append(close);
                return;
            }
            String newline = indent == null ? "" : "\n" + indent.repeat(level + 1);
            out.append(newline);
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) {
                    out.append(itemSeparator).append(newline);
                }
                item.write(items.get(i), level + 1);
            }
            if (indent != null) {
                out.append('\n').append(indent.repeat(level));
            }
            out.append(close);
        }

        private interface Item<T> {
            void write(T item, int level);
        }

        /** json.dumps turns str, int, float, bool and None keys into strings and refuses others. */
        private static String key(Object k) {
            if (k instanceof CharSequence || k instanceof Character) {
                return k.toString();
            }
            if (k == null || k instanceof Boolean || k instanceof Number) {
                return scalar(k);
            }
            throw failure("keys must be str, int, float, bool or None, not " + k.getClass().getSimpleName());
        }

        private static int compareKeys(Object a, Object b) {
            if (a instanceof Number x && b instanceof Number y) {
                return Double.compare(x.doubleValue(), y.doubleValue());
            }
            if (a instanceof CharSequence && b instanceof CharSequence) {
                return a.toString().compareTo(b.toString());
            }
            throw failure("sort_keys cannot order keys of different types");
        }

        private static String scalar(Object v) {
            if (v == null) {
                return "null";
            }
            if (v instanceof Boolean b) {
                return b ? "true" : "false";
            }
            if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
                    || v instanceof BigInteger) {
                return v.toString();
            }
            if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
                return pythonFloat(((Number) v).doubleValue());
            }
            throw failure("Object of type " + v.getClass().getSimpleName() + " is not JSON serializable");
        }

        private void string(String s) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        // Python escapes control characters always, and everything past ASCII (as
                        // UTF-16 units, so astral characters as surrogate pairs) under ensure_ascii.
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }

    /**
     * Python's {@code repr(float)}: the shortest digits that read back as the same double, positional
     * for decimal exponents from -4 to 15 (with at least one decimal, {@code 1.0}), scientific outside
     * ({@code 1e+16}, {@code 1.5e-05}); json's {@code Infinity}, {@code -Infinity} and {@code NaN}.
     */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - shortest.scale() - 1;
        String sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String plain = shortest.toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
