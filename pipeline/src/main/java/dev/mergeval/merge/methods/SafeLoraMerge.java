package dev.mergeval.merge.methods;

import dev.mergeval.checkpoint.LoraAdapter;
import dev.mergeval.checkpoint.LoraCheckpoint;
import dev.mergeval.common.Shapes;
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
import dev.mergeval.merge.TensorParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Safe LoRA (Hsu et al., NeurIPS 2024, https://arxiv.org/abs/2405.16833), as the reference code
 * IBM/SafeLoRA computes it, for full fine-tunes and {@code ALIGNED+ADAPTER} inputs alike. With
 * {@code base_model} the aligned model, the one other model the fine-tune and
 * {@code parameters.unaligned_model} the model before alignment, per target matrix:
 * <pre>
 *   V   = W_aligned - W_unaligned           (the alignment matrix)
 *   dW  = W_post - W_aligned                (the fine-tuning update)
 *   P   = V (V^T dW) / ||V||_F              (= C dW with C = V V^T / ||V||_F, never formed)
 *   cos = round(cos(vec P, vec dW), 5)
 *   y   = W_aligned + P   where cos <= threshold,   else W_post
 * </pre>
 * {@code C} is divided by the Frobenius norm, not its square, so it is not an idempotent projector:
 * reproduced as published. In {@code select_layers_type: number} mode (the default) the threshold is
 * the {@code num_proj_layers}-th smallest cosine over all target matrices (ties at it are projected
 * too; 0 projects none), so the decision needs every matrix and is made once, by the plan-time
 * analysis; in {@code threshold} mode it is {@code threshold} (default 0.5). Every other tensor is
 * the fine-tune's.
 *
 * <p>Target matrices: the 2-D weights named {@code ...<module>.weight} for a module of
 * {@code target_modules}; by default the adapter's adapted weights when the fine-tune is
 * {@code BASE+ADAPTER}, else the seven Llama projections. Departures from the reference code, which
 * pairs tensors by iteration order and computes in float32: tensors are matched by name; products
 * are accumulated in double; a matrix whose {@code dW} is zero, or whose {@code V} is zero (the
 * reference code then divides by zero and gets NaN), has no cosine, is never projected and does not
 * count in {@code number} mode. Cost: {@code 2 d_out d_in min(d_out, d_in)} multiply-adds per target
 * matrix in the analysis, and again for each projected matrix when it is merged (a matrix with
 * fewer rows than columns is projected as {@code (V V^T) dW}, the reference code's association,
 * others as {@code V (V^T dW)}: {@link SafeLoraProjection#projectCheaply}). For
 * {@code ALIGNED+ADAPTER} on the aligned model the analysis takes each adapted matrix's cosine from
 * the adapter's factors, as the reference code does ({@link SafeLoraProjection#factorTerms},
 * {@code 2 d_out d_in r}).
 */
public final class SafeLoraMerge implements MergeMethod {

    /** The default target modules for a full fine-tune: Llama's seven projections. */
    public static final List<String> DEFAULT_TARGETS = List.of(
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    private static final String NUMBER = "number";
    private static final String THRESHOLD = "threshold";

    /**
     * The analysis' verdict on one target matrix.
     *
     * @param cosine the rounded cosine, or null where {@code note} says why there is none
     * @param projected whether the output is {@code W_aligned + P}
     */
    public record Decision(Double cosine, boolean projected, String note) implements TensorDecision {
        private static final long serialVersionUID = 1L;

        @Override
        public Map<String, Object> provenance() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("cosine", cosine);
            p.put("projected", projected);
            if (note != null) {
                p.put("note", note);
            }
            return p;
        }
    }

    @Override
    public String name() {
        return "safe_lora";
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2405.16833";
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.postHoc(Knob.when("num_proj_layers", "select_layers_type", NUMBER),
                Knob.when(THRESHOLD, "select_layers_type", THRESHOLD)));
    }

    @Override
    public List<ParamDef> parameters() {
        return List.of(ParamDef.requiredModel("unaligned_model"), ParamDef.string("select_layers_type", NUMBER),
                ParamDef.number(THRESHOLD, 0.5), ParamDef.number("num_proj_layers", 10.0),
                ParamDef.names("target_modules"));
    }

    @Override
    public List<ParamDef> tensorParameters() {
        return List.of();
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireFineTune(config, name());
        Object type = config.parameters().get("select_layers_type");
        if (type != null && !NUMBER.equals(type) && !THRESHOLD.equals(type)) {
            throw config.error("parameters.select_layers_type", "must be number or threshold (got " + type + ")");
        }
        Object n = config.parameters().get("num_proj_layers");
        if (n != null && !(n instanceof Number num && num.doubleValue() >= 0
                && num.doubleValue() == Math.rint(num.doubleValue()))) {
            throw config.error("parameters.num_proj_layers", "must be a whole number >= 0 (got " + n + ")");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        return true;
    }

    /** Only a projected matrix needs itself whole; every other tensor is copied from the fine-tune. */
    @Override
    public boolean elementwise(TensorParams params, TensorDecision decision) {
        return !(decision instanceof Decision d && d.projected());
    }

    @Override
    public boolean readsExtraInput(String parameter, TensorParams params, TensorDecision decision) {
        return decision instanceof Decision d && d.projected();
    }

    @Override
    public PlanAnalysis analyze(AnalysisContext ctx) {
        MergeConfig config = ctx.config();
        String aligned = config.baseModel().orElseThrow();
        String post = config.models().get(0).model();
        List<String> targets = targets(ctx, post);
        Params global = ctx.params(targets.get(0)).global();
        String mode = global.string("select_layers_type");
        targets.forEach(t -> ctx.checkExtra("unaligned_model", t));
        List<Decision> measured = ctx.mapTensors(targets, new Measure(aligned, post));

        Double threshold = null;
        if (NUMBER.equals(mode)) {
            int n = (int) global.number("num_proj_layers");
            List<Double> cosines = new ArrayList<>();
            measured.stream().filter(d -> d.cosine() != null).forEach(d -> cosines.add(d.cosine()));
            cosines.sort(null);
            threshold = n == 0 || cosines.isEmpty() ? null : cosines.get(Math.min(n, cosines.size()) - 1);
        }
        Map<String, TensorDecision> decisions = new LinkedHashMap<>();
        int projected = 0;
        for (int i = 0; i < targets.size(); i++) {
            Decision d = measured.get(i);
            double limit = NUMBER.equals(mode) ? (threshold == null ? Double.NEGATIVE_INFINITY : threshold)
                    : ctx.params(targets.get(i)).global().number(THRESHOLD);
            boolean project = d.cosine() != null && d.cosine() <= limit;
            projected += project ? 1 : 0;
            decisions.put(targets.get(i), new Decision(d.cosine(), project, d.note()));
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("select_layers_type", mode);
        if (NUMBER.equals(mode)) {
            summary.put("num_proj_layers", (int) global.number("num_proj_layers"));
            summary.put("threshold", threshold);
        } else {
            summary.put("threshold", global.number(THRESHOLD));
        }
        summary.put("target_matrices", targets.size());
        summary.put("projected_matrices", projected);
        return new PlanAnalysis(decisions, summary);
    }

    /** The target matrices among the merged tensors, in output order. */
    private static List<String> targets(AnalysisContext ctx, String post) {
        MergeConfig config = ctx.config();
        @SuppressWarnings("unchecked")
        List<String> modules = (List<String>) config.parameters().get("target_modules");
        Set<String> adapted = modules == null && ctx.input(post) instanceof LoraCheckpoint lora
                ? lora.adapter().modules().keySet() : null;
        List<String> names = modules != null ? modules : DEFAULT_TARGETS;
        List<String> targets = new ArrayList<>();
        for (String t : ctx.tensors()) {
            if (ctx.shape(t).length != 2) {
                continue;
            }
            if (adapted != null ? adapted.contains(t) : names.stream().anyMatch(m -> t.equals(m + ".weight")
                    || t.endsWith("." + m + ".weight"))) {
                targets.add(t);
            }
        }
        if (targets.isEmpty()) {
            throw config.error("parameters.target_modules", "no 2-D weight of the base model is named "
                    + "<module>.weight for a module of " + (adapted != null ? "the adapter" : names));
        }
        return targets;
    }

    /** One target matrix's cosine ({@link #measure}): values only, so it runs on a cluster's executors too. */
    private record Measure(String aligned, String post) implements AnalysisContext.TensorTask<Decision> {
        @Override
        public Decision apply(AnalysisContext ctx, String tensor) {
            return measure(ctx, tensor, aligned, post);
        }
    }

    private static Decision measure(AnalysisContext ctx, String tensor, String aligned, String post) {
        long[] shape = ctx.shape(tensor);
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[] a = ctx.read(aligned, tensor);
        float[] v = Shapes.difference(a, ctx.read("unaligned_model", tensor));
        double vNorm = SafeLoraProjection.norm(v);
        if (vNorm == 0) {
            return new Decision(null, false, "no alignment change: W_aligned = W_unaligned");
        }
        LoraAdapter.Module factors = factorsOf(ctx, tensor, aligned, post);
        double[] stats;
        if (factors != null) {
            stats = SafeLoraProjection.factorTerms(v, rows, cols, vNorm, factors.left(), factors.right(),
                    factors.rank(), factors.scale());
        } else {
            float[] dw = Shapes.difference(ctx.read(post, tensor), a);
            stats = SafeLoraProjection.norm(dw) == 0 ? new double[3]
                    : SafeLoraProjection.projectCheaply(v, dw, rows, cols, vNorm, null, null);
        }
        if (stats[2] == 0) {
            return new Decision(null, false, "no fine-tuning change: W_post = W_aligned");
        }
        double cos = stats[1] == 0 ? 0 : stats[0] / (Math.sqrt(stats[1]) * Math.sqrt(stats[2]));
        return new Decision(Math.rint(cos * 1e5) / 1e5, false, null);
    }

    /**
     * The adapter's factors of {@code tensor} when the fine-tune is {@code ALIGNED+ADAPTER} on the
     * aligned model itself, so that {@code dW = scale * left @ right} exactly; else null.
     */
    private static LoraAdapter.Module factorsOf(AnalysisContext ctx, String tensor, String aligned, String post) {
        if (ctx.input(post) instanceof LoraCheckpoint lora
                && lora.base().location().equals(ctx.location(aligned))) {
            return lora.adapter().modules().get(tensor);
        }
        return null;
    }

    /** The tensors it merges element-wise are the fine-tune's, copied ({@link Rules#fineTuneCopy}). */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        return elementwise(params, decision) ? Rules.fineTuneCopy(params) : null;
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] post = r.inputs()[Rules.fineTuneIndex(r)];
        if (!(r.decision() instanceof Decision d && d.projected())) {
            return post.clone();
        }
        float[] aligned = r.inputs()[r.baseIndex()];
        float[] v = Shapes.difference(aligned, r.extra("unaligned_model"));
        float[] out = new float[post.length];
        SafeLoraProjection.projectCheaply(v, Shapes.difference(post, aligned), (int) r.shape()[0],
                (int) r.shape()[1], SafeLoraProjection.norm(v), aligned, out);
        return out;
    }
}
