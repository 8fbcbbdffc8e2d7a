package dev.mergeval.merge;

import java.io.Serializable;
import java.util.Collections;
import java.util.Map;

/**
 * Resolved parameter values for one tensor (one scope: global, or one model), typed on read.
 * Values were checked against their {@link ParamDef} kind when the config was parsed.
 */
public final class Params implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Map<String, Object> values;

    public Params(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(values);
    }

    public Map<String, Object> asMap() {
        return values;
    }

    public boolean has(String name) {
        return values.get(name) != null;
    }

    public double number(String name) {
        Object v = values.get(name);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        if (v instanceof String s) {
            return Double.parseDouble(s.trim());
        }
        throw new IllegalStateException("parameter " + name + " has no numeric value: " + v);
    }

    public boolean bool(String name) {
        Object v = values.get(name);
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof Number n) {
            return n.doubleValue() != 0.0;
        }
        throw new IllegalStateException("parameter " + name + " has no boolean value: " + v);
    }

    public String string(String name) {
        return (String) values.get(name);
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
