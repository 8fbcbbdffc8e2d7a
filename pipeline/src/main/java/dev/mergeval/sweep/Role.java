package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a sweep point is: the aligned end point, a fine-tuned end point, or a merge between them. */
public enum Role {
    ALIGNED, FINETUNED, MERGE;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }
}
