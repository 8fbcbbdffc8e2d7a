package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What SPF was given and what it did in a fine-tune ({@code spf} of a fine-tune's or a toy
 * model's provenance); the fields are described in {@code docs/safety-methods.md}.
 *
 * @param safetySequences the encoded safety sequences ({@code mergeval finetune}), else absent
 * @param safetySamples   the safety samples (toy models), else absent
 * @param rank            the fixed rank, absent when chosen by {@code cer}
 * @param cer             the cumulative-energy target, absent at a fixed rank
 * @param perMatrix       by matrix name, in name order
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SpfProvenance(
        String safetyData,
        String safetyDataSha256,
        Integer safetySequences,
        Integer safetySamples,
        Integer rank,
        Double cer,
        int refresh,
        int matricesGuarded,
        double meanConflictShare,
        double meanRemovedNormShare,
        double meanSafetyCer,
        double meanTaskCer,
        List<Double> conflictShare,
        List<Double> removedNormShare,
        List<Refresh> refreshes,
        Map<String, Matrix> perMatrix) {

    public SpfProvenance {
        conflictShare = List.copyOf(conflictShare);
        removedNormShare = List.copyOf(removedNormShare);
        refreshes = List.copyOf(refreshes);
        perMatrix = Collections.unmodifiableSortedMap(new TreeMap<>(perMatrix));
    }

    /** A re-estimation of the subspaces: the step before which it ran and the safety loss there. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Refresh(int step, double safetyLoss) {
    }

    /** A guarded matrix, averaged over the refreshes: the rank used and the CERs at it. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Matrix(double rank, double safetyCer, double taskCer) {
    }
}
