package dev.mergeval.merge.methods;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Shapes;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeMethod;
import dev.mergeval.merge.MergeRequest;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.Params;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.SweepMapping;
import dev.mergeval.merge.TensorDecision;
import dev.mergeval.merge.TensorParams;
import dev.mergeval.merge.methods.Sparsifier.RescaleMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Generalized task arithmetic, as mergekit's {@code GeneralizedTaskArithmeticMerge}: task
 * arithmetic, TIES, DARE, Model Breadcrumbs and DELLA are this one class with a consensus method,
 * a sparsification method and default {@code normalize}/{@code rescale}, one named factory each.
 *
 * <p>For each non-base model k with weight {@code w_k}: {@code d_k = sparsify(x_k - base)} (see
 * {@link Sparsifier}), {@code e_k = w_k d_k}. Without consensus, {@code D = sum_k e_k} and
 * {@code S = sum_k w_k} ({@code S = 1} if {@code |S| < 1e-8}). With sign consensus ("sum", TIES),
 * per element the elected sign is {@code +1} if {@code sum_k e_k >= 0} else {@code -1}; only
 * {@code e_k} whose sign equals it contribute: {@code D = sum_k m_k e_k}, {@code S = sum_k m_k w_k}
 * ({@code S = 1} if {@code S == 0}); zero entries have sign 0 and never contribute. Then
 * {@code y = base + lambda * (normalize ? D / S : D)}.
 *
 * <p>Task arithmetic: Ilharco et al., https://arxiv.org/abs/2212.04089; TIES: Yadav et al.,
 * https://arxiv.org/abs/2306.01708; DARE: Yu et al., https://arxiv.org/abs/2311.03099; Breadcrumbs:
 * Davari and Belilovsky, https://arxiv.org/abs/2312.06795; DELLA: Deep et al.,
 * https://arxiv.org/abs/2406.11617.
 */
public final class GeneralizedTaskArithmeticMerge implements MergeMethod {

    /** How the per-element sign is elected: by the sum of weighted deltas, or by a count of signs. */
    public enum Consensus { SUM, COUNT }

    /** Which task-vector sparsification runs before the sum. */
    public enum Sparsification { MAGNITUDE, RANDOM, MAGNITUDE_OUTLIERS, DELLA_MAGPRUNE }

    /** A boolean parameter whose default is true for a family member (false where not listed). */
    private enum OnByDefault { NORMALIZE, RESCALE }

    private static final String TASK_ARITHMETIC_PAPER = "https://arxiv.org/abs/2212.04089";
    private static final String TIES_PAPER = "https://arxiv.org/abs/2306.01708";
    private static final String DARE_PAPER = "https://arxiv.org/abs/2311.03099";
    private static final String BREADCRUMBS_PAPER = "https://arxiv.org/abs/2312.06795";
    private static final String DELLA_PAPER = "https://arxiv.org/abs/2406.11617";

    private final String name;
    private final String url;
    private final Consensus consensus;
    private final Sparsification sparsification;
    private final boolean defaultNormalize;
    private final boolean defaultRescale;

    /** {@code consensus} and {@code sparsification} are null for none. */
    private GeneralizedTaskArithmeticMerge(String name, String url, Consensus consensus,
            Sparsification sparsification, Set<OnByDefault> onByDefault) {
        this.name = name;
        this.url = url;
        this.consensus = consensus;
        this.sparsification = sparsification;
        this.defaultNormalize = onByDefault.contains(OnByDefault.NORMALIZE);
        this.defaultRescale = onByDefault.contains(OnByDefault.RESCALE);
    }

    /** {@code task_arithmetic}: the weighted sum of the task vectors, nothing dropped, no sign election. */
    public static GeneralizedTaskArithmeticMerge taskArithmetic() {
        return new GeneralizedTaskArithmeticMerge("task_arithmetic", TASK_ARITHMETIC_PAPER, null, null, Set.of());
    }

    /** {@code ties}: magnitude pruning, sign elected by sum, normalized by default. */
    public static GeneralizedTaskArithmeticMerge ties() {
        return new GeneralizedTaskArithmeticMerge("ties", TIES_PAPER, Consensus.SUM, Sparsification.MAGNITUDE,
                Set.of(OnByDefault.NORMALIZE));
    }

    /** {@code dare_ties}: random drop, sign elected by sum, rescaled by default. */
    public static GeneralizedTaskArithmeticMerge dareTies() {
        return new GeneralizedTaskArithmeticMerge("dare_ties", DARE_PAPER, Consensus.SUM, Sparsification.RANDOM,
                Set.of(OnByDefault.RESCALE));
    }

    /** {@code dare_linear}: random drop, no sign election, rescaled by default. */
    public static GeneralizedTaskArithmeticMerge dareLinear() {
        return new GeneralizedTaskArithmeticMerge("dare_linear", DARE_PAPER, null, Sparsification.RANDOM,
                Set.of(OnByDefault.RESCALE));
    }

    /** {@code breadcrumbs}: the largest and the smallest magnitudes dropped, no sign election. */
    public static GeneralizedTaskArithmeticMerge breadcrumbs() {
        return new GeneralizedTaskArithmeticMerge("breadcrumbs", BREADCRUMBS_PAPER, null,
                Sparsification.MAGNITUDE_OUTLIERS, Set.of());
    }

    /** {@code breadcrumbs_ties}: as {@link #breadcrumbs()}, with the sign elected by sum. */
    public static GeneralizedTaskArithmeticMerge breadcrumbsTies() {
        return new GeneralizedTaskArithmeticMerge("breadcrumbs_ties", BREADCRUMBS_PAPER, Consensus.SUM,
                Sparsification.MAGNITUDE_OUTLIERS, Set.of());
    }

    /** {@code della}: magnitude-ranked random drop, sign elected by sum, normalized and rescaled by default. */
    public static GeneralizedTaskArithmeticMerge della() {
        return new GeneralizedTaskArithmeticMerge("della", DELLA_PAPER, Consensus.SUM,
                Sparsification.DELLA_MAGPRUNE, Set.of(OnByDefault.NORMALIZE, OnByDefault.RESCALE));
    }

    /** {@code della_linear}: magnitude-ranked random drop, no sign election, rescaled by default. */
    public static GeneralizedTaskArithmeticMerge dellaLinear() {
        return new GeneralizedTaskArithmeticMerge("della_linear", DELLA_PAPER, null, Sparsification.DELLA_MAGPRUNE,
                Set.of(OnByDefault.RESCALE));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String referenceUrl() {
        return url;
    }

    @Override
    public Optional<SweepMapping> sweepMapping() {
        return Optional.of(SweepMapping.taskVector());
    }

    @Override
    public List<ParamDef> parameters() {
        List<ParamDef> defs = new ArrayList<>(List.of(
                ParamDef.bool("int8_mask", false),
                ParamDef.bool("normalize", defaultNormalize),
                ParamDef.bool("rescale", defaultRescale),
                ParamDef.number("lambda", 1.0)));
        if (sparsification != null) {
            defs.add(ParamDef.string("rescale_mode", "l1"));
        }
        return defs;
    }

    @Override
    public List<ParamDef> tensorParameters() {
        List<ParamDef> defs = new ArrayList<>(List.of(ParamDef.requiredNumber("weight"),
                ParamDef.number("density", 1.0)));
        if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
            defs.add(ParamDef.number("gamma", 0.01));
        }
        if (sparsification == Sparsification.DELLA_MAGPRUNE) {
            defs.add(ParamDef.number("epsilon", 0.15));
        }
        return defs;
    }

    @Override
    public void validate(MergeConfig config) {
        Rules.requireBase(config, name);
        Object mode = config.parameters().get("rescale_mode");
        if (mode instanceof String s && !s.equals("l1") && !s.equals("inverse_density")) {
            throw config.error("parameters.rescale_mode", "must be l1 or inverse_density (got '" + s + "')");
        }
    }

    @Override
    public boolean elementwise(TensorParams params) {
        if (sparsification == null) {
            return true;
        }
        RescaleMode rescale = rescaleMode(params.global(), params.tensorName());
        for (int k = 0; k < params.perModel().size(); k++) {
            if (k == params.baseIndex()) {
                continue;
            }
            double density = params.perModel().get(k).number("density");
            boolean trivial = density >= 1 || density <= 0;
            boolean pointwise = sparsification == Sparsification.RANDOM && rescale != RescaleMode.L1;
            if (!trivial && !pointwise) {
                return false;
            }
        }
        return true;
    }

    /**
     * The element-wise cases without draws: task arithmetic, and any member whose every fine-tune is
     * kept or dropped whole (density at least 1 or at most 0). The masks are {@link #sparsify}'s for
     * those densities and the combination is {@link #merge}'s ({@link TaskVectorCombiner}), into the
     * caller's array, so the floats are the same with no array allocated per chunk. DARE's
     * pointwise draws, keyed by the element's offset, which a kernel does not see, keep {@link #merge}.
     */
    @Override
    public ElementwiseKernel kernel(TensorParams params, TensorDecision decision) {
        if (!elementwise(params)) {
            return null;
        }
        int m = params.perModel().size() - 1;
        double[] w = new double[m];
        boolean[] dropped = new boolean[m];
        double weightSum = 0;
        for (int k = 0, j = 0; k < params.perModel().size(); k++) {
            if (k == params.baseIndex()) {
                continue;
            }
            Params p = params.perModel().get(k);
            w[j] = p.number("weight");
            weightSum += w[j];
            if (sparsification != null) {
                double density = p.number("density");
                if (density > 0 && density < 1) {
                    return null;
                }
                dropped[j] = density <= 0;
            }
            j++;
        }
        Params global = params.global();
        TaskVectorCombiner combiner = new TaskVectorCombiner(consensus, w, weightSum, global.bool("normalize"),
                global.number("lambda"));
        return new ElementwiseKernel() {
            private final float[][] xs = new float[m][];
            private final KeepMask[] masks = new KeepMask[m];
            /** A dropped fine-tune's mask, no bits set, grown to the longest call (longer is fine). */
            private KeepMask none = new KeepMask(KeepMask.none(0), 1.0, null);

            @Override
            public void merge(float[][] x, int n, float[] out) {
                if (none.bits().length < (n + 63) >>> 6) {
                    none = new KeepMask(KeepMask.none(n), 1.0, null);
                }
                for (int k = 0, j = 0; k < params.perModel().size(); k++) {
                    if (k == params.baseIndex()) {
                        continue;
                    }
                    xs[j] = x[k];
                    masks[j] = dropped[j] ? none : KeepMask.ALL;
                    j++;
                }
                combiner.combine(xs, x[params.baseIndex()], masks, n, out);
            }
        };
    }

    /**
     * TIES' trimming, DARE's drops with the L1 rescale, breadcrumbs' outlier cut and DELLA's ranked
     * drops, streamed ({@link StreamedTaskVectorMerge}), where some density is not trivial.
     */
    @Override
    public StreamedMerge streamed(TensorParams params, TensorDecision decision, long[] shape, long seed) {
        if (sparsification == null || elementwise(params)) {
            return null;
        }
        long n = Shapes.numElements(shape);
        int m = params.perModel().size() - 1;
        double[] w = new double[m];
        double[] densities = new double[m];
        StreamedTaskVectorMerge.Selection[] selections = new StreamedTaskVectorMerge.Selection[m];
        for (int k = 0, j = 0; k < params.perModel().size(); k++) {
            if (k == params.baseIndex()) {
                continue;
            }
            Params p = params.perModel().get(k);
            w[j] = p.number("weight");
            densities[j] = p.number("density");
            if (sparsification == Sparsification.DELLA_MAGPRUNE && !dellaBandFits(densities[j], p.number("epsilon"))) {
                return null;  // the whole-tensor merge reports it, naming the model
            }
            if (densities[j] < 1) {
                selections[j] = selection(params, k, densities[j], shape,
                        KeyedRandom.counterKey(seed, params.tensorName(), k));
            }
            j++;
        }
        Params global = params.global();
        return new StreamedTaskVectorMerge(consensus, params.baseIndex(), w, densities, selections,
                rescaleMode(global, params.tensorName()), global.bool("normalize"), global.number("lambda"));
    }

    /** One fine-tune's streamed selection, as {@link #sparsify} selects on the whole tensor ({@code density < 1}). */
    private StreamedTaskVectorMerge.Selection selection(TensorParams params, int model, double density,
            long[] shape, long key) {
        Params p = params.perModel().get(model);
        long n = Shapes.numElements(shape);
        switch (sparsification) {
            case MAGNITUDE: {
                long k = (long) (density * n);
                return k <= 0 ? StreamedTaskVectorMerge.DROP_ALL : new StreamedMagnitudeCut(n, k);
            }
            case RANDOM:
                return density <= 0 ? StreamedTaskVectorMerge.DROP_ALL
                        : new StreamedTaskVectorMerge.RandomDrop(density, key);
            case MAGNITUDE_OUTLIERS: {
                long target = (long) (density * n);
                long top = Math.max(0, (long) (p.number("gamma") * n));
                long bottom = n - target - top;
                if (bottom < 0) {
                    top += bottom;
                    bottom = 0;
                }
                return n - top <= bottom ? StreamedTaskVectorMerge.DROP_ALL
                        : new StreamedOutlierCut(n, bottom, n - top);
            }
            case DELLA_MAGPRUNE:
                return density <= 0 ? StreamedTaskVectorMerge.DROP_ALL
                        : new StreamedTaskVectorMerge.DellaDrop(Sparsifier.dellaRow(shape), density,
                                p.number("epsilon"), key,
                                rescaleMode(params.global(), params.tensorName()) == RescaleMode.INVERSE_DENSITY);
            default:
                throw new IllegalStateException("not streamed: " + sparsification);
        }
    }

    @Override
    public float[] merge(MergeRequest r) {
        float[] base = r.inputs()[r.baseIndex()];
        int m = r.inputs().length - 1;
        float[][] xs = new float[m][];
        double[] w = new double[m];
        KeepMask[] masks = new KeepMask[m];
        RescaleMode rescale = rescaleMode(r.params().global(), r.tensorName());
        double weightSum = 0;
        for (int k = 0, j = 0; k < r.inputs().length; k++) {
            if (k == r.baseIndex()) {
                continue;
            }
            Params p = r.params().perModel().get(k);
            xs[j] = r.inputs()[k];
            w[j] = p.number("weight");
            weightSum += w[j];
            masks[j] = sparsify(r, k, xs[j], base, p, p.number("density"), rescale);
            j++;
        }
        Params global = r.params().global();
        return new TaskVectorCombiner(consensus, xs, base, w, masks, weightSum, global.bool("normalize"),
                global.number("lambda")).combine();
    }

    private KeepMask sparsify(MergeRequest r, int k, float[] x, float[] base, Params p, double density,
            RescaleMode rescale) {
        if (sparsification == null) {
            return KeepMask.ALL;
        }
        switch (sparsification) {
            case MAGNITUDE:
                return Sparsifier.magnitude(x, base, density, rescale);
            case MAGNITUDE_OUTLIERS:
                return Sparsifier.magnitudeOutliers(x, base, density, p.number("gamma"), rescale);
            case RANDOM:
                return Sparsifier.random(x, base, density, rescale,
                        KeyedRandom.counterKey(r.seed(), r.tensorName(), k), r.elementOffset());
            case DELLA_MAGPRUNE:
                double epsilon = p.number("epsilon");
                if (!dellaBandFits(density, epsilon)) {
                    throw new BadInputException(r.tensorName() + ": model " + r.models().get(k) + ": epsilon "
                            + epsilon + " with density " + density + " must keep density +/- epsilon inside (0, 1)");
                }
                return Sparsifier.dellaMagprune(x, base, r.shape(), density, epsilon, rescale,
                        KeyedRandom.counterKey(r.seed(), r.tensorName(), k));
            default:
                throw new IllegalStateException("unknown sparsification " + sparsification);
        }
    }

    /** DELLA's probabilities {@code density +/- epsilon} lie inside (0, 1) (or every element is kept or dropped). */
    private static boolean dellaBandFits(double density, double epsilon) {
        return !(density < 1 && density > 0 && (density + epsilon >= 1 || density - epsilon <= 0));
    }

    /** null when {@code rescale} is off. */
    private RescaleMode rescaleMode(Params global, String tensor) {
        if (sparsification == null || !global.bool("rescale")) {
            return null;
        }
        String mode = global.string("rescale_mode");
        if ("l1".equals(mode)) {
            return RescaleMode.L1;
        }
        if ("inverse_density".equals(mode)) {
            return RescaleMode.INVERSE_DENSITY;
        }
        throw new BadInputException(tensor + ": parameters.rescale_mode must be l1 or inverse_density (got '"
                + mode + "')");
    }
}
