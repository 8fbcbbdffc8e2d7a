package dev.mergeval.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
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
     * The provenance form: {@code matrices_guarded}, the means over steps of
     * {@code conflict_share} and {@code removed_norm_share}, the means over matrices of
     * {@code safety_cer} and {@code task_cer}, the per-step lists, {@code refreshes} and
     * {@code per_matrix}.
     */
    public ObjectNode toJson() {
        ObjectNode o = Mappers.JSON.createObjectNode();
        o.put("matrices_guarded", matrices.size());
        o.put("mean_conflict_share", round(mean(conflictShare)));
        o.put("mean_removed_norm_share", round(mean(removedNormShare)));
        o.put("mean_safety_cer", round(mean(matrices.values().stream().map(MatrixStats::safetyCer).toList())));
        o.put("mean_task_cer", round(mean(matrices.values().stream().map(MatrixStats::taskCer).toList())));
        o.putPOJO("conflict_share", conflictShare.stream().map(SpfReport::round).toList());
        o.putPOJO("removed_norm_share", removedNormShare.stream().map(SpfReport::round).toList());
        var list = o.putArray("refreshes");
        refreshes.forEach(r -> list.addObject().put("step", r.step()).put("safety_loss", r.safetyLoss()));
        ObjectNode per = o.putObject("per_matrix");
        new java.util.TreeMap<>(matrices).forEach((name, m) -> per.putObject(name)
                .put("rank", m.rank()).put("safety_cer", round(m.safetyCer())).put("task_cer", round(m.taskCer())));
        return o;
    }

    private static double mean(Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    private static double round(double x) {
        return Math.round(x * 1e5) / 1e5;
    }
}
