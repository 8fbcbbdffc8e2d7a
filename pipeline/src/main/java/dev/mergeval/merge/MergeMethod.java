package dev.mergeval.merge;

import java.util.List;
import java.util.Optional;

/**
 * One merge method, as mergekit's {@code MergeMethod}: its registry name, paper, the parameters it
 * takes globally and per model, the model-count rules it checks on the config, how a sweep ratio
 * maps onto its parameters, and the tensor math. A new method is one class and one line of
 * {@link MergeMethods}.
 */
public interface MergeMethod {

    /** The mergekit name used in {@code merge_method:}. */
    String name();

    /** Paper or reference URL. */
    String referenceUrl();

    /** Parameters read from the global {@code parameters:} block only. */
    List<ParamDef> parameters();

    /** Parameters resolved per model (model block first, then the global block, then the default). */
    List<ParamDef> tensorParameters();

    /**
     * Whether the base model is exempt from required per-model parameters (true in mergekit for
     * every method; false where the method merges the base like any other model).
     */
    default boolean baseExemptFromRequired() {
        return true;
    }

    /**
     * How a sweep varies this method between the aligned model and a fine-tune; empty (the default)
     * for a method a sweep cannot use.
     */
    default Optional<SweepMapping> sweepMapping() {
        return Optional.empty();
    }

    /** Model-count and base-model rules; throws {@code BadInputException} naming the key. */
    void validate(MergeConfig config);

    /**
     * Whether this method, given a single model (a slice of one source), returns that model's
     * tensor unchanged instead of holding the config to {@link #validate}'s rules: mergekit's
     * slerp, nuslerp, karcher, multislerp and arcee_fusion do (their {@code len(tensors) == 1}
     * return), model_stock where the one model is the base. False by default.
     */
    default boolean keepsALoneModel(MergeConfig config) {
        return false;
    }

    /**
     * True when the output element {@code i} depends only on the inputs' element {@code i} for this
     * tensor's resolved parameters, so the tensor may be merged in independent chunks.
     */
    boolean elementwise(TensorParams params);

    /**
     * {@link #elementwise(TensorParams)} once the plan-time analysis decided {@code decision} for the
     * tensor (null when it made none).
     */
    default boolean elementwise(TensorParams params, TensorDecision decision) {
        return elementwise(params);
    }

    /**
     * The plan-time analysis, for a method whose per-tensor work depends on more than the tensor
     * (a threshold over all tensors, a gradient computed once): run once before any tensor is
     * merged; its decisions reach {@link #merge} as {@link MergeRequest#decision()}. None by default.
     */
    default PlanAnalysis analyze(AnalysisContext context) {
        return PlanAnalysis.NONE;
    }

    /**
     * Whether merging this tensor reads the extra model input of {@link ParamDef.Kind#MODEL}
     * parameter {@code parameter} (into {@link MergeRequest#extras()}); every tensor does by default.
     */
    default boolean readsExtraInput(String parameter, TensorParams params, TensorDecision decision) {
        return true;
    }

    /**
     * The method's {@link ElementwiseKernel} for a tensor with these parameters and plan-time
     * decision, where {@link #elementwise} holds (the extra inputs it reads for the tensor follow
     * the models' in the kernel's inputs); null
     * (the default) where it has none, and the tensor is merged by {@link #merge}. Opt-in: a method
     * without one loses nothing but speed.
     */
    default ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        return null;
    }

    /**
     * The method's {@link StreamedMerge} for a tensor of this {@code shape} (and the random
     * {@code seed}, for DARE's draws) with these
     * parameters and plan-time decision, where {@link #elementwise} does not hold and the method
     * reads no extra input for it; null (the default) where it has none, and the whole tensor is
     * merged by {@link #merge}. Opt-in: a method without one loses nothing but memory.
     */
    default StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        return null;
    }

    /** Merges one tensor, or one chunk of it when {@link #elementwise} holds. */
    float[] merge(MergeRequest request);
}
