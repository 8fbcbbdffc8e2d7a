package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.RenamingCheckpoint;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A merge input seen under the tensor names of the merge's reference model, where the two spell a
 * weight differently and mergekit's definition of the reference's architecture lists both
 * spellings as one weight's name and alias ({@link MergekitWeights}; not its tied names, which
 * name another weight): GPT-2 as the Hub stores it
 * ({@code h.0.attn.c_attn.weight}, {@code wte.weight}) and as transformers saves a fine-tune of it
 * ({@code transformer.h.0.attn.c_attn.weight}), or BERT's old {@code LayerNorm.gamma}. mergekit
 * loads a weight under its name or any alias, so it merges such models; here the model's tensor
 * is read under the name the reference stores it by, and the output takes the reference's
 * spelling (mergekit writes the definition's first name).
 *
 * <p>Only a name the model lacks and the reference holds is read through another, and only from
 * a tensor that the reference lacks: a model whose names the reference shares is seen as stored.
 */
final class AliasedNames extends RenamingCheckpoint {

    private static final String LAYER_INDEX = "${layer_index}";
    /** {@link #regex}'s patterns, compiled once per weight name. */
    private static final Map<String, Pattern> REGEX = new ConcurrentHashMap<>();

    /** The reference's name of each renamed tensor, and the model's name for it. */
    private final Map<String, String> stored;
    private final Map<String, String> renamed;

    private AliasedNames(Checkpoint model, Map<String, String> stored) {
        super(model);
        this.stored = Map.copyOf(stored);
        Map<String, String> back = new HashMap<>();
        stored.forEach((asReference, asModel) -> back.put(asModel, asReference));
        this.renamed = Map.copyOf(back);
    }

    /** {@code model} as a merge whose reference model is {@code reference} reads it. */
    static Checkpoint view(Checkpoint model, Checkpoint reference) {
        if (model == reference) {
            return model;
        }
        List<MergekitWeights.Weight> weights = MergekitArchitectures.of(reference.config())
                .map(d -> MergekitWeights.of(d.name())).orElse(List.of());
        if (weights.isEmpty()) {
            return model;
        }
        // Every unit of a merge opens its inputs: models that share the reference's names (nearly
        // all) cost one lookup per name.
        List<String> missing = model.tensorNames().stream().filter(n -> !reference.contains(n)).toList();
        if (missing.isEmpty()) {
            return model;
        }
        Set<String> own = Set.copyOf(model.tensorNames());
        Map<String, String> stored = new HashMap<>();
        for (String name : missing) {
            for (String other : spellings(weights, name)) {
                if (!other.equals(name) && reference.contains(other) && !own.contains(other)
                        && !stored.containsKey(other)) {
                    stored.put(other, name);
                    break;
                }
            }
        }
        return stored.isEmpty() ? model : new AliasedNames(model, stored);
    }

    /**
     * The names of the weight that {@code name} is one of (its layer's where it is a layer
     * weight), in the definition's order; empty where it is none of them.
     */
    private static List<String> spellings(List<MergekitWeights.Weight> weights, String name) {
        for (MergekitWeights.Weight w : weights) {
            if (w.names().stream().anyMatch(n -> n.replace(LAYER_INDEX, "").contains("${"))) {
                continue;  // phi-1's ${num_layers}: its final layers are no alias's
            }
            for (String pattern : w.names()) {
                Matcher m = regex(pattern).matcher(name);
                if (m.matches()) {
                    String layer = pattern.contains(LAYER_INDEX) ? m.group(1) : "";
                    return w.names().stream().map(n -> n.replace(LAYER_INDEX, layer)).toList();
                }
            }
        }
        return List.of();
    }

    /** A weight's name as a pattern, its layer index (the only placeholder it may hold) a group. */
    private static Pattern regex(String pattern) {
        return REGEX.computeIfAbsent(pattern, p -> {
            int at = p.indexOf(LAYER_INDEX);
            return at < 0 ? Pattern.compile(Pattern.quote(p))
                    : Pattern.compile(Pattern.quote(p.substring(0, at)) + "(\\d+)"
                            + Pattern.quote(p.substring(at + LAYER_INDEX.length())));
        });
    }

    @Override
    protected String stored(String name) {
        return stored.getOrDefault(name, name);
    }

    @Override
    public List<String> tensorNames() {
        return model.tensorNames().stream().map(n -> renamed.getOrDefault(n, n)).toList();
    }

    @Override
    public boolean contains(String name) {
        return stored.containsKey(name) || !renamed.containsKey(name) && model.contains(name);
    }
}
