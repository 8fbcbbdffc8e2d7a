package dev.mergeval.merge.methods;

import dev.mergeval.common.BadInputException;
import dev.mergeval.merge.AnalysisContext;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.Params;
import dev.mergeval.merge.PlanAnalysis;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.SweepMapping.Knob;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorMerger;
import dev.mergeval.merge.TensorParams;
import dev.mergeval.safety.SafetyGradient;
import dev.mergeval.safety.SafetySubspace;
import dev.mergeval.train.data.ChatJsonl;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Post-hoc SPF: the conflict-gated safety-subspace projection of SPF (arXiv 2601.10141) applied
 * once to the whole fine-tuning update instead of to every training step. Mergeval's own
 * construction, not a published method. With {@code base_model} the aligned model, the one other
 * model the fine-tune, and {@code parameters.safety_data} chat-format records (harmful requests
 * with their refusals; relative to the config file):
 * <pre>
 *   G       = d NLL(refusals) / dW at W_post (gradient_at: finetuned, the default) or W_aligned
 *   G      ~ U_k S_k V_k^T                   (rank-k truncated SVD per matrix, k = rank, default 8)
 *   dW      = W_post - W_aligned
 *   y       = W_aligned + dW - U_k U_k^T dW V_k V_k^T   where &lt;dW, U_k S_k V_k^T&gt; &gt; 0
 *   y       = W_post                                     elsewhere
 * </pre>
 * for each projection matrix ({@code *_proj.weight} of a decoder layer); every other tensor is the
 * fine-tune's. {@code dW} is formed in float, the removed part is {@link SafetySubspace#component}'s
 * float32 result, and the sum is rounded once. The gradient is computed once, by the plan-time analysis ({@link SafetyGradient}:
 * the model is loaded on the driver), with each matrix's subspace and decision; only conflicting
 * matrices carry their factors to the executors. The provenance records per matrix the inner
 * product, the conflict, the CER of the subspace and the share of {@code ||dW||_F} removed.
 *
 * <p>Departures from SPF during training: the gate is nonlinear, so one projection of the sum of
 * the steps is not the sum of per-step projections; it is first order around the weights the
 * gradient is taken at and weakens as {@code dW} grows; the task is not re-optimized afterwards.
 * The default {@code gradient_at: finetuned} takes the gradient where the safety loss has risen,
 * which says where safety went (at the aligned weights that loss is about 1e-5 on the toy pair and
 * its gradient points little where it will later rise).
 */
public final class SpfProjectMerge implements MergeMethod {

    private static final String FINETUNED = "finetuned";
    private static final String ALIGNED = "aligned";

    /**
     * The analysis' verdict on one projection matrix.
     *
     * @param inner {@code <dW, U_k S_k V_k^T>}
     * @param cer the subspace's cumulative explained ratio {@code CER(k)}
     * @param removedShare {@code ||U U^T dW V V^T||_F / ||dW||_F} where conflicting, else 0
     * @param subspace the factors, only where conflicting (to be applied by the executors)
     */
    public record Decision(double inner, double cer, double removedShare, SafetySubspace subspace)
            implements TensorDecision {
        private static final long serialVersionUID = 1L;

        public boolean conflict() {
            return subspace != null;
        }

        @Override
        public Map<String, Object> provenance() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("inner", inner);
            p.put("conflict", conflict());
            p.put("cer", cer);
            p.put("removed_norm_share", removedShare);
            return p;
        }
    }

    @Override
    public String name() {
        return "spf_project";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2601.10141";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.postHoc(Knob.of("rank")));
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.requiredFile("safety_data"), ParamDef.number("rank", 8.0),
                ParamDef.string("gradient_at", FINETUNED));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireFineTune(config, name());
        Object rank = config.parameters().get("rank");
        if (rank != null && !(rank instanceof Number n && n.doubleValue() >= 1 && n.doubleValue() == Math.rint(n.doubleValue()))) {
            throw config.error("parameters.rank", "must be a whole number >= 1 (got " + rank + ")");
        }
        Object at = config.parameters().get("gradient_at");
        if (at != null && !FINETUNED.equals(at) && !ALIGNED.equals(at)) {
            throw config.error("parameters.gradient_at", "must be finetuned or aligned (got " + at + ")");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return true;
    }

    /** Only a conflicting matrix needs itself whole; every other tensor is copied from the fine-tune. */
    @Override
    public boolean elementwise(TensorParams params, TensorDecision decision) {
        return !(decision instanceof Decision d && d.conflict());
    }

    @Override
    public PlanAnalysis analyze(AnalysisContext ctx) {
        MergeConfig config = ctx.config();
        String aligned = config.baseModel().orElseThrow();
        String post = config.models().get(0).model();
        List<String> matrices = ctx.tensors().stream().filter(t -> isProjection(t, ctx.shape(t))).toList();
        if (matrices.isEmpty()) {
            throw config.error("base_model", "no projection matrix (*_proj.weight of a decoder layer) to project");
        }
        Params global = ctx.params(matrices.get(0)).global();
        int rank = (int) global.number("rank");
        String tooHigh = rankProblem(rank, matrices, ctx::shape);
        if (tooHigh != null) {
            throw config.error("parameters.rank", tooHigh);
        }
        String data = config.resolve("safety_data");
        try {
            ChatJsonl.read(data, ctx.conf());
        } catch (BadInputException e) {
            throw config.error("parameters.safety_data", e.getMessage());
        }
        String at = global.string("gradient_at");
        Set<String> wanted = new HashSet<>(matrices);
        Map<String, float[]> gradient = SafetyGradient.compute(ctx.location(FINETUNED.equals(at) ? post : aligned),
                data, wanted::contains, ctx.conf());
        List<Decision> decided = ctx.map(matrices, t -> decide(ctx, t, aligned, post, gradient.get(t), rank));

        Map<String, TensorDecision> decisions = new LinkedHashMap<>();
        int conflicts = 0;
        for (int i = 0; i < matrices.size(); i++) {
            decisions.put(matrices.get(i), decided.get(i));
            conflicts += decided.get(i).conflict() ? 1 : 0;
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("rank", rank);
        summary.put("gradient_at", at);
        summary.put("projection_matrices", matrices.size());
        summary.put("conflicting_matrices", conflicts);
        return new PlanAnalysis(decisions, summary);
    }

    /**
     * Why {@code rank} cannot be the rank of the projection among {@code tensors} (shapes by
     * {@code shape}), or null: it is above a projection matrix's own rank. The analysis checks it,
     * and a sweep before any work, from the aligned model's headers.
     */
    public static String rankProblem(int rank, Collection<String> tensors, Function<String, long[]> shape) {
        for (String t : tensors) {
            long[] s = shape.apply(t);
            if (isProjection(t, s) && rank > Math.min(s[0], s[1])) {
                return rank + " is above the rank of " + t + ", a " + s[0] + "x" + s[1] + " matrix";
            }
        }
        return null;
    }

    static boolean isProjection(String tensor, long[] shape) {
        return shape.length == 2 && tensor.endsWith("_proj.weight") && TensorMerger.layerIndex(tensor) >= 0;
    }

    private static Decision decide(AnalysisContext ctx, String tensor, String aligned, String post, float[] g, int rank) {
        if (g == null) {
            throw new IllegalStateException(tensor + ": no safety gradient");
        }
        long[] shape = ctx.shape(tensor);
        SafetySubspace subspace = SafetySubspace.of(tensor, g, (int) shape[0], (int) shape[1], rank);
        float[] a = ctx.read(aligned, tensor);
        float[] dw = ctx.read(post, tensor);
        for (int i = 0; i < dw.length; i++) {
            dw[i] -= a[i];
        }
        double inner = subspace.inner(dw);
        if (!(inner > 0)) {
            return new Decision(inner, subspace.cer(), 0, null);
        }
        double norm = Rules.norm(dw, 0, dw.length, 1);
        float[] removed = subspace.component(dw);
        return new Decision(inner, subspace.cer(), Rules.norm(removed, 0, removed.length, 1) / norm, subspace);
    }

    /** The tensors it merges element-wise are the fine-tune's, copied ({@link Rules#fineTuneCopy}). */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        return elementwise(params, decision) ? Rules.fineTuneCopy(params) : null;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] post = r.inputs()[Rules.fineTuneIndex(r)];
        if (!(r.decision() instanceof Decision d && d.conflict())) {
            return post.clone();
        }
        float[] aligned = r.inputs()[r.baseIndex()];
        float[] dw = new float[post.length];
        for (int i = 0; i < dw.length; i++) {
            dw[i] = post[i] - aligned[i];
        }
        float[] removed = d.subspace().component(dw);
        float[] out = new float[post.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((double) aligned[i] + dw[i] - removed[i]);
        }
        return out;
    }
}
