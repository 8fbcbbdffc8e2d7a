package dev.mergeval.provenance;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * How and when a sweep ran: {@code provenance} of its {@code summary.json}.
 *
 * @param specHash        the canonical hash of the spec
 * @param startedAt       when the run started
 * @param finishedAt      when its results were written
 * @param durationSeconds between the two, to the millisecond
 * @param sparkMaster     the Spark master it ran on
 * @param pointsEvaluated points evaluated by this run
 * @param pointsReused    points an earlier run of the same spec had finished
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SweepProvenance(
        String specHash,
        @JsonSerialize(using = ToStringSerializer.class) @JsonDeserialize(using = InstantText.class) Instant startedAt,
        @JsonSerialize(using = ToStringSerializer.class) @JsonDeserialize(using = InstantText.class) Instant finishedAt,
        double durationSeconds,
        String sparkMaster,
        int pointsEvaluated,
        int pointsReused,
        Environment environment) implements Provenance {

    public SweepProvenance {
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(finishedAt, "finishedAt");
    }

    /** A run of {@code specHash} from {@code startedAt} to {@code finishedAt}, in this JVM's environment. */
    public static SweepProvenance of(String specHash, Instant startedAt, Instant finishedAt, String sparkMaster,
            int pointsEvaluated, int pointsReused, Environment environment) {
        return new SweepProvenance(specHash, startedAt, finishedAt,
                Duration.between(startedAt, finishedAt).toMillis() / 1000.0, sparkMaster, pointsEvaluated,
                pointsReused, environment);
    }

    /** The {@code provenance} object of a {@code summary.json}'s text. */
    public static SweepProvenance readSummary(String summaryJson) {
        JsonNode node;
        try {
            node = JSON.readTree(summaryJson).get("provenance");
        } catch (IOException e) {
            throw new BadInputException("not a sweep summary: " + e.getMessage(), e);
        }
        if (node == null) {
            throw new BadInputException("not a sweep summary: no provenance");
        }
        return Provenance.read(node.toString(), SweepProvenance.class);
    }

    /**
     * The versions and run facts {@code report.html}'s footer lists, by name: Mergeval, Java, OS
     * and architecture, the Spark master and the point counts.
     */
    public Map<String, String> versions() {
        Map<String, String> v = new TreeMap<>();
        v.put("mergeval", environment.mergevalVersion());
        v.put("java", environment.javaVersion());
        v.put("os", environment.osName() + " " + environment.osVersion());
        v.put("arch", environment.arch());
        v.put("spark_master", sparkMaster);
        v.put("points_evaluated", Integer.toString(pointsEvaluated));
        v.put("points_reused", Integer.toString(pointsReused));
        return v;
    }

    /** An {@link Instant} from its ISO-8601 text, as {@link Instant#toString()} writes it. */
    static final class InstantText extends StdScalarDeserializer<Instant> {
        InstantText() {
            super(Instant.class);
        }

        @Override
        public Instant deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            return Instant.parse(p.getValueAsString());
        }
    }
}
