package dev.mergeval.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.llama.TorchMemory;
import dev.mergeval.safety.SafetyGradient;
import dev.mergeval.safety.SafetySubspace;
import dev.mergeval.train.data.TrainingSequence;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The SPF step rule. At each refresh: the safety gradient {@code G} of every guarded matrix at
 * the current (effective) weights ({@link SafetyGradient}) and its truncated SVD
 * {@code U_k S_k V_k^T} ({@link SafetySubspace}). After each optimizer step, with {@code D} the
 * matrix update the step made: if {@code <D, U_k S_k V_k^T> > 0} (the step raises the safety loss
 * to first order) the step is replaced through {@link Adaptation#project}, else kept. The
 * optimizer's own state (Adam's moments) is left as the optimizer made it.
 *
 * <p>The gate and projection run as tensor ops on the training device ({@code <D, U S V^T> =
 * sum((D V) * (U S))}, {@code P(D) = U (U^T D V) V^T}), equal to {@link SafetySubspace#inner} and
 * {@link SafetySubspace#component} up to float32 rounding.
 */
final class SpfProjector implements AutoCloseable {

    private final SpfConfig config;
    private final Adaptation adaptation;
    private final LlamaForward forward;
    private final NDManager parent;
    private final List<String> matrices;
    private NDManager bases;
    private final Map<String, SafetySubspace> subspaces = new LinkedHashMap<>();
    private final Map<String, NDArray[]> arrays = new LinkedHashMap<>();

    private final List<Double> conflictShare = new ArrayList<>();
    private final List<Double> removedNormShare = new ArrayList<>();
    private final List<SpfReport.Refresh> refreshes = new ArrayList<>();
    private final Map<String, double[]> sums = new TreeMap<>();

    SpfProjector(SpfConfig config, Adaptation adaptation, LlamaForward forward, NDManager parent) {
        this.config = config;
        this.adaptation = adaptation;
        this.forward = forward;
        this.parent = parent;
        this.matrices = adaptation.matrices();
    }

    /**
     * Re-estimates every subspace at the current weights, before step {@code step}; opens its own
     * gradient collector, so none may be open.
     */
    void refresh(int step) {
        if (bases != null) {
            bases.close();
        }
        bases = parent.newSubManager();
        Set<String> guarded = new HashSet<>(matrices);
        try (NDManager scope = parent.newSubManager();
                GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            SafetyGradient.Gradients g = SafetyGradient.of(scope, collector, forward, adaptation.forwardParams(scope),
                    config.safety(), guarded::contains);
            refreshes.add(new SpfReport.Refresh(step, g.loss()));
            for (String m : matrices) {
                NDArray grad = g.byTensor().get(m);
                int rows = Math.toIntExact(grad.getShape().get(0));
                int cols = Math.toIntExact(grad.getShape().get(1));
                float[] values = grad.toFloatArray();
                SafetySubspace s = Double.isNaN(config.cer())
                        ? SafetySubspace.of(m, values, rows, cols, config.rank())
                        : SafetySubspace.ofCer(m, values, rows, cols, config.cer());
                subspaces.put(m, s);
                NDArray u = array(s.u(), rows, s.rank());
                NDArray v = array(s.v(), cols, s.rank());
                NDArray us = u.mul(array(s.s(), 1, s.rank()));
                arrays.put(m, new NDArray[] {u, us, v});
                double[] sum = sums.computeIfAbsent(m, k -> new double[4]);
                sum[0] += s.rank();
                sum[1] += s.cer();
                sum[3]++;
            }
        }
    }

    /**
     * Adds the CER of the task gradient at each subspace's rank, after the backward pass of a
     * refresh step: the matrix gradient itself when it is trained directly, else the gradient of
     * the batch's loss at the effective weights (LoRA), which opens its own collector.
     */
    void recordTaskCer(List<TrainingSequence> batch, NDManager scope) {
        Map<String, NDArray> grads = new LinkedHashMap<>();
        for (String m : matrices) {
            NDArray g = adaptation.matrixGradient(m, scope);
            if (g == null) {
                grads = null;
                break;
            }
            grads.put(m, g);
        }
        if (grads == null) {
            Set<String> guarded = new HashSet<>(matrices);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                grads = SafetyGradient.of(scope, collector, forward, adaptation.forwardParams(scope), batch,
                        guarded::contains).byTensor();
            }
        }
        for (String m : matrices) {
            NDArray g = grads.get(m);
            // The top k only (randomized above the exact limit) over the exact ||G||^2: a full SVD of
            // every large matrix at every refresh would cost more than the training.
            sums.get(m)[2] += SafetySubspace.of(m, g.toFloatArray(), Math.toIntExact(g.getShape().get(0)),
                    Math.toIntExact(g.getShape().get(1)), subspaces.get(m).rank()).cer();
        }
    }

    /**
     * Gates and projects the step just taken from {@code before}; records its shares. The scalars
     * of all matrices are read from the device in one transfer per phase, not one per matrix.
     */
    void apply(Map<String, NDArray> before, NDManager scope) {
        NDList scalars = new NDList();
        List<NDArray> updates = new ArrayList<>();
        for (String m : matrices) {
            NDArray d = adaptation.matrixUpdate(m, before, scope);
            updates.add(d);
            scalars.add(d.square().sum());
            scalars.add(d.matMul(arrays.get(m)[2]).mul(arrays.get(m)[1]).sum());
        }
        float[] values = Owned.by(scope, NDArrays.stack(scalars)).toFloatArray();
        double total = 0;
        NDList removed = new NDList();
        for (int i = 0; i < matrices.size(); i++) {
            total += values[2 * i];
            if (values[2 * i + 1] > 0) {
                String m = matrices.get(i);
                NDArray[] b = arrays.get(m);
                adaptation.project(m, before, b[0], b[2], scope);
                removed.add(updates.get(i).sub(adaptation.matrixUpdate(m, before, scope)).square().sum());
            }
        }
        double removedSquared = 0;
        if (!removed.isEmpty()) {
            for (float x : Owned.by(scope, NDArrays.stack(removed)).toFloatArray()) {
                removedSquared += x;
            }
        }
        conflictShare.add((double) removed.size() / matrices.size());
        removedNormShare.add(total == 0 ? 0 : Math.sqrt(removedSquared / total));
    }

    /** The subspace of a guarded matrix as last estimated (for tests). */
    SafetySubspace subspace(String matrix) {
        return subspaces.get(matrix);
    }

    SpfReport report() {
        Map<String, SpfReport.MatrixStats> stats = new TreeMap<>();
        sums.forEach((m, s) -> stats.put(m, new SpfReport.MatrixStats(s[0] / s[3], s[1] / s[3], s[2] / s[3])));
        return new SpfReport(conflictShare, removedNormShare, refreshes, stats);
    }

    private NDArray array(float[] values, int rows, int cols) {
        return TorchMemory.copy(bases, values, new Shape(rows, cols));
    }

    @Override
    public void close() {
        if (bases != null) {
            bases.close();
        }
    }
}
