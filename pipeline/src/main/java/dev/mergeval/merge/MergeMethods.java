package dev.mergeval.merge;

import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Consensus;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge.Sparsification;
import dev.mergeval.merge.methods.LinearMerge;
import dev.mergeval.merge.methods.ModelStockMerge;
import dev.mergeval.merge.methods.NuSlerpMerge;
import dev.mergeval.merge.methods.PassthroughMerge;
import dev.mergeval.merge.methods.RestaMerge;
import dev.mergeval.merge.methods.SafeLoraMerge;
import dev.mergeval.merge.methods.SpfProjectMerge;
import dev.mergeval.merge.methods.SlerpMerge;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The registry of merge methods by mergekit name: an explicit list, as mergekit's
 * {@code merge_methods/registry.py}. The task-arithmetic family is one class configured by
 * consensus, sparsification and default {@code normalize}/{@code rescale}, with mergekit's values.
 */
public final class MergeMethods {
    private static final Map<String, MergeMethod> BY_NAME = new LinkedHashMap<>();

    static {
        register(new LinearMerge());
        register(new SlerpMerge());
        register(new NuSlerpMerge());
        register(new PassthroughMerge());
        register(new ModelStockMerge());
        register(new GeneralizedTaskArithmeticMerge("task_arithmetic", "https://arxiv.org/abs/2212.04089",
                null, null, false, false));
        register(new GeneralizedTaskArithmeticMerge("ties", "https://arxiv.org/abs/2306.01708",
                Consensus.SUM, Sparsification.MAGNITUDE, true, false));
        register(new GeneralizedTaskArithmeticMerge("dare_ties", "https://arxiv.org/abs/2311.03099",
                Consensus.SUM, Sparsification.RANDOM, false, true));
        register(new GeneralizedTaskArithmeticMerge("dare_linear", "https://arxiv.org/abs/2311.03099",
                null, Sparsification.RANDOM, false, true));
        register(new GeneralizedTaskArithmeticMerge("breadcrumbs", "https://arxiv.org/abs/2312.06795",
                null, Sparsification.MAGNITUDE_OUTLIERS, false, false));
        register(new GeneralizedTaskArithmeticMerge("breadcrumbs_ties", "https://arxiv.org/abs/2312.06795",
                Consensus.SUM, Sparsification.MAGNITUDE_OUTLIERS, false, false));
        register(new GeneralizedTaskArithmeticMerge("della", "https://arxiv.org/abs/2406.11617",
                Consensus.SUM, Sparsification.DELLA_MAGPRUNE, true, true));
        register(new GeneralizedTaskArithmeticMerge("della_linear", "https://arxiv.org/abs/2406.11617",
                null, Sparsification.DELLA_MAGPRUNE, false, true));
        register(new SafeLoraMerge());
        register(new RestaMerge());
        register(new SpfProjectMerge());
    }

    private MergeMethods() {
    }

    private static void register(MergeMethod method) {
        if (BY_NAME.put(method.name(), method) != null) {
            throw new IllegalStateException("duplicate merge method " + method.name());
        }
    }

    public static Optional<MergeMethod> find(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    /** Registered names, in registration order. */
    public static List<String> names() {
        return new ArrayList<>(BY_NAME.keySet());
    }
}
