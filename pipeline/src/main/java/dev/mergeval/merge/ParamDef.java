package dev.mergeval.merge;

/**
 * A parameter a merge method accepts, as mergekit's {@code ConfigParameterDef}: its name, value
 * kind, whether it is required and its default ({@code null} for none).
 */
public record ParamDef(String name, Kind kind, boolean required, Object defaultValue) {

    /**
     * Value kinds; booleans also accept numbers (Python truthiness, as mergekit). {@code MODEL},
     * {@code FILE} and {@code NAMES} are Mergeval's, for the global {@code parameters:} block only,
     * and take no gradients or filters: a {@code MODEL} is a model reference (path, Hadoop URI or
     * {@code BASE+ADAPTER}) read tensor by tensor like the merged models, a {@code FILE} a file
     * path, both resolved against the config file's directory ({@link MergeConfig#resolve}); a
     * {@code NAMES} value is a list of names, written as a YAML list or one comma-separated string.
     */
    public enum Kind { NUMBER, BOOLEAN, STRING, MODEL, FILE, NAMES;

        /** True for the kinds that are one value for the whole merge. */
        public boolean wholeMerge() {
            return this == MODEL || this == FILE || this == NAMES;
        }
    }

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

    public static ParamDef requiredModel(String name) {
        return new ParamDef(name, Kind.MODEL, true, null);
    }

    public static ParamDef requiredFile(String name) {
        return new ParamDef(name, Kind.FILE, true, null);
    }

    /** A list of names with no default: the method decides what its absence means. */
    public static ParamDef names(String name) {
        return new ParamDef(name, Kind.NAMES, false, null);
    }
}
