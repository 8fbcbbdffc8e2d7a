package dev.mergeval.train;

import dev.mergeval.provenance.SpfProvenance;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * What SPF did in a run, for the provenance.
 *
 * @param conflictShare per step, the share of guarded matrices whose update conflicted
 *     ({@code <D, U_k S_k V_k^T> > 0}) and was projected
 * @param removedNormShare per step, {@code ||removed|| / ||D||} over all guarded matrices
 *     together (Frobenius norms of the stacked matrix updates)
 * @param refreshes each re-estimation: the step before which it ran and the safety loss there
 * @param matrices per guarded matrix: the mean rank used and the mean CER at that rank of the
 *     safety gradient and of the task batch's gradient, over the refreshes
 */
public record SpfReport(List<Double> conflictShare, List<Double> removedNormShare, List<Refresh> refreshes,
        Map<String, MatrixStats> matrices) {

    /** One re-estimation of the subspaces. */
    public record Refresh(int step, double safetyLoss) {
    }

    /** One guarded matrix, averaged over the refreshes. */
    public record MatrixStats(double rank, double safetyCer, double taskCer) {
    }

    public SpfReport {
        conflictShare = List.copyOf(conflictShare);
        removedNormShare = List.copyOf(removedNormShare);
        refreshes = List.copyOf(refreshes);
        matrices = Map.copyOf(matrices);
    }

    /**
     * The provenance form: what SPF was given ({@code safetyData} and its hash, the sequence or
     * sample count, the rank or the CER target, the refresh interval), then {@code matrices_guarded},
     * the means over steps of {@code conflict_share} and {@code removed_norm_share}, the means over
     * matrices of {@code safety_cer} and {@code task_cer}, the per-step lists, {@code refreshes} and
     * {@code per_matrix}; rounded to 5 decimals where averaged.
     */
    public SpfProvenance provenance(String safetyData, String safetyDataSha256, Integer safetySequences,
            Integer safetySamples, Integer rank, Double cer, int refresh) {
        Map<String, SpfProvenance.Matrix> perMatrix = new java.util.TreeMap<>();
        matrices.forEach((name, m) -> perMatrix.put(name,
                new SpfProvenance.Matrix(m.rank(), round(m.safetyCer()), round(m.taskCer()))));
        return new SpfProvenance(safetyData, safetyDataSha256, safetySequences, safetySamples, rank, cer, refresh,
                matrices.size(), round(mean(conflictShare)), round(mean(removedNormShare)),
                round(mean(matrices.values().stream().map(MatrixStats::safetyCer).toList())),
                round(mean(matrices.values().stream().map(MatrixStats::taskCer).toList())),
                conflictShare.stream().map(SpfReport::round).toList(),
                removedNormShare.stream().map(SpfReport::round).toList(),
                refreshes.stream().map(r -> new SpfProvenance.Refresh(r.step(), r.safetyLoss())).toList(), perMatrix);
    }

    private static double mean(Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    private static double round(double x) {
        return Math.round(x * 1e5) / 1e5;
    }
}
