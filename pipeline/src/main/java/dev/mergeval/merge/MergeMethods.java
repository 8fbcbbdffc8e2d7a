package dev.mergeval.merge;

import dev.mergeval.merge.methods.ArceeFusionMerge;
import dev.mergeval.merge.methods.GeneralizedTaskArithmeticMerge;
import dev.mergeval.merge.methods.KarcherMerge;
import dev.mergeval.merge.methods.LinearMerge;
import dev.mergeval.merge.methods.ModelStockMerge;
import dev.mergeval.merge.methods.MultiSlerpMerge;
import dev.mergeval.merge.methods.NearSwapMerge;
import dev.mergeval.merge.methods.NuSlerpMerge;
import dev.mergeval.merge.methods.PassthroughMerge;
import dev.mergeval.merge.methods.RamMerge;
import dev.mergeval.merge.methods.RestaMerge;
import dev.mergeval.merge.methods.SafeLoraMerge;
import dev.mergeval.merge.methods.SceMerge;
import dev.mergeval.merge.methods.SpfProjectMerge;
import dev.mergeval.merge.methods.SlerpMerge;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The registry of merge methods by mergekit name: an explicit list, one line per method, as
 * mergekit's {@code merge_methods/registry.py}. The task-arithmetic family is one class whose named
 * factories set consensus, sparsification and default {@code normalize}/{@code rescale} to
 * mergekit's values. The order is the order of error messages and of sweepable methods.
 */
public final class MergeMethods {
    private static final Map<String, MergeMethod> BY_NAME = new LinkedHashMap<>();

    static {
        register(new LinearMerge());
        register(new SlerpMerge());
        register(new NuSlerpMerge());
        register(new PassthroughMerge());
        register(new ModelStockMerge());
        register(GeneralizedTaskArithmeticMerge.taskArithmetic());
        register(GeneralizedTaskArithmeticMerge.ties());
        register(GeneralizedTaskArithmeticMerge.dareTies());
        register(GeneralizedTaskArithmeticMerge.dareLinear());
        register(GeneralizedTaskArithmeticMerge.breadcrumbs());
        register(GeneralizedTaskArithmeticMerge.breadcrumbsTies());
        register(GeneralizedTaskArithmeticMerge.della());
        register(GeneralizedTaskArithmeticMerge.dellaLinear());
        register(new SafeLoraMerge());
        register(new RestaMerge());
        register(new SpfProjectMerge());
        register(new SceMerge());
        register(new KarcherMerge());
        register(new MultiSlerpMerge());
        register(new NearSwapMerge());
        register(new ArceeFusionMerge());
        register(RamMerge.ram());
        register(RamMerge.ramPlusTensorLocal());
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
