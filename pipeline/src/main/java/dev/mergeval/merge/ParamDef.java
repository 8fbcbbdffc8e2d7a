package dev.mergeval.merge;

/**
 * A parameter a merge method accepts, as mergekit's {@code ConfigParameterDef}: its name, value
 * kind, whether it is required and its default ({@code null} for none).
 */
public record ParamDef(String name, Kind kind, boolean required, Object defaultValue) {

    /** Value kinds; booleans also accept numbers (Python truthiness, as mergekit). */
    public enum Kind { NUMBER, BOOLEAN, STRING }

    public static ParamDef requiredNumber(String name) {
        return new ParamDef(name, Kind.NUMBER, true, null);
    }

    public static ParamDef number(String name, Double defaultValue) {
        return new ParamDef(name, Kind.NUMBER, false, defaultValue);
    }

    public static ParamDef bool(String name, boolean defaultValue) {
        return new ParamDef(name, Kind.BOOLEAN, false, defaultValue);
    }

    public static ParamDef string(String name, String defaultValue) {
        return new ParamDef(name, Kind.STRING, false, defaultValue);
    }
}
