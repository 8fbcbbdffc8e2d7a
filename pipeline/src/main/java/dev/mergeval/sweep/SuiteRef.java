package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.mergeval.common.BadInputException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The eval suite of a sweep, kept opaque here: either a path (or URI) to a suite YAML, or the
 * suite written inline as a mapping. The evaluation code reads it; this package only needs its
 * {@link #identity()} for point ids.
 *
 * @param path   the suite file, or null when inline
 * @param inline the suite itself, or null when given by path
 */
public record SuiteRef(String path, Map<String, Object> inline) {

    public SuiteRef {
        if ((path == null) == (inline == null)) {
            throw new BadInputException("suite: give either a path to a suite YAML or the suite inline");
        }
        if (path != null && path.isBlank()) {
            throw new BadInputException("suite: the path is empty");
        }
        if (inline != null) {
            if (inline.isEmpty()) {
                throw new BadInputException("suite: the inline suite is empty");
            }
            inline = Collections.unmodifiableMap(new LinkedHashMap<>(inline));
        }
    }

    public static SuiteRef ofPath(String path) {
        return new SuiteRef(path, null);
    }

    public static SuiteRef ofInline(Map<String, Object> suite) {
        return new SuiteRef(null, suite);
    }

    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    @SuppressWarnings("unchecked")
    static SuiteRef fromJson(Object value) {
        if (value instanceof String s) {
            return ofPath(s);
        }
        if (value instanceof Map<?, ?> m) {
            return ofInline((Map<String, Object>) m);
        }
        throw new BadInputException("suite: must be a path (string) or the suite inline (mapping)");
    }

    /**
     * What identifies the suite in point ids: {@code path:<path>} or {@code inline:<sha256 of its
     * canonical JSON>}. A path names the file, not its content: a job that wants edits of the file to
     * invalidate finished points passes a content hash to {@link SweepSpec#points(String)}.
     */
    public String identity() {
        return path != null ? "path:" + path : "inline:" + Canonical.sha256(Canonical.json(inline));
    }

    @JsonValue
    Object json() {
        return path != null ? path : inline;
    }
}
