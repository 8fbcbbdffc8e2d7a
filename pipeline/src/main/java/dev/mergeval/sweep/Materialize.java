package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import dev.mergeval.common.BadInputException;
import java.util.List;
import java.util.Locale;

/**
 * Which merged points are written out as checkpoints: none (every point is evaluated merge-on-load),
 * only the recommended one once the sweep has chosen (the default), or all of them.
 */
public enum Materialize {
    NONE, CHOSEN, ALL;

    @JsonCreator
    static Materialize fromJson(String value) {
        for (Materialize m : values()) {
            if (m.json().equals(value)) {
                return m;
            }
        }
        throw new BadInputException("materialize: must be none, chosen or all (got '" + value + "')");
    }

    /**
     * The merges to write as checkpoints: none; the chosen point if it is a merge (an end point is
     * already a checkpoint); or every merge among {@code points}.
     */
    public List<SweepPoint> pick(List<SweepPoint> points, SweepPoint chosen) {
        return switch (this) {
            case NONE -> List.of();
            case CHOSEN -> chosen.isMerge() ? List.of(chosen) : List.of();
            case ALL -> points.stream().filter(SweepPoint::isMerge).toList();
        };
    }

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }
}
