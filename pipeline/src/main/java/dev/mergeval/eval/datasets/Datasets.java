package dev.mergeval.eval.datasets;

import dev.mergeval.common.KeyedRandom;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Loads a dataset by kind, and selects a reproducible subset of it. */
public final class Datasets {

    private Datasets() {
    }

    public static Dataset load(DatasetSpec spec) {
        return switch (spec.kind()) {
            case ADVBENCH -> AdvBenchLoader.load(spec.path());
            case HARMBENCH -> HarmBenchLoader.load(spec.path());
            case HEXPHI -> HexPhiLoader.load(spec.path());
            case XSTEST -> XsTestLoader.load(spec.path());
            case JSONL -> JsonlPromptLoader.load(spec.path());
            case GSM8K -> Gsm8kLoader.load(spec.path(), spec.fewShotPath(), spec.nShot(), spec.seed());
            case ARC -> ArcLoader.load(spec.path());
            case MMLU -> MmluLoader.load(spec.path());
        };
    }

    /**
     * At most {@code limit} items, chosen as the ones with the smallest {@link KeyedRandom#hash} of
     * their id, and returned in file order. The choice depends only on (seed, ids), and a smaller
     * limit gives a subset of a larger one.
     */
    public static Dataset sample(Dataset d, int limit, long seed) {
        if (limit < 0 || limit >= d.size()) {
            return d;
        }
        Set<String> keep = new HashSet<>();
        d.examples().stream()
                .sorted(Comparator.comparingLong((EvalExample e) -> KeyedRandom.hash(seed, e.id()))
                        .thenComparing(EvalExample::id))
                .limit(limit)
                .forEach(e -> keep.add(e.id()));
        List<EvalExample> kept = d.examples().stream().filter(e -> keep.contains(e.id())).toList();
        return new Dataset(d.source(), d.kind(), kept);
    }
}
