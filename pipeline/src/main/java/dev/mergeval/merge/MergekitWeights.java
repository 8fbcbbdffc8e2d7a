package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The weights of mergekit's non-modular architecture definitions (the modular ones' are
 * {@link MergekitModules}'), from the table of them ({@code mergekit-weights.tsv}, written by
 * {@code docs/checks/mergekit_weights.sh}), and the check that a merge's inputs hold the ones it
 * requires of them. mergekit plans every output tensor from its definition and loads each input
 * under the weight's name, an alias or a tied name, and a required weight that a model holds under
 * none of them fails the merge ({@code io/tasks.py}: "Tensor X required but not present in model
 * M"). Mergeval lays out the tensors the models hold, so without the check a model that lacks one
 * would merge into an output without it.
 */
public final class MergekitWeights {

    private static final String TABLE = "/dev/mergeval/merge/mergekit-weights.tsv";
    private static final String LAYER_INDEX = "${layer_index}";
    private static final String NUM_LAYERS = "${num_layers}";
    private static final Pattern MASK_BUFFER = Pattern.compile(".*\\.attention\\.(?:bias|masked_bias)");

    /** The table, read when a merge of a model with a definition is first checked. */
    private static final class Table {
        static final Map<String, List<Weight>> BY_DEFINITION = load();
    }

    /** Where a weight stands: before the layers, in each layer, after them. */
    enum Place {
        PRE, LAYER, POST
    }

    /**
     * One weight of a definition.
     *
     * @param names its name, then its aliases (the same weight spelt otherwise), with
     *     {@code ${layer_index}} and {@code ${num_layers}} in place of those numbers
     * @param tied its tied names: other weights that stand in for it where a model lacks it (a tied
     *     head's input embedding)
     */
    record Weight(Place place, boolean optional, List<String> names, List<String> tied) {
        public Weight {
            names = List.copyOf(names);
            tied = List.copyOf(tied);
        }

        /**
         * The names it is loaded under, tied ones last, at layer {@code layer} (of a layer weight)
         * of a model of {@code layers} layers. mergekit puts the output's layer count for
         * {@code ${num_layers}} (phi-1's final layers); the model's own is where that model stores them.
         */
        List<String> at(int layer, int layers) {
            return Stream.concat(names.stream(), tied.stream())
                    .map(n -> n.replace(LAYER_INDEX, Integer.toString(layer))
                            .replace(NUM_LAYERS, Integer.toString(layers))).toList();
        }
    }

    /**
     * A weight mergekit's loader assembles where the model does not store it under its name
     * ({@code _load_converted_tensor}, by transformers' checkpoint conversions for the model's
     * {@code model_type}): the end of its name, and the ends of the tensors it is made from after the
     * same start, {@code *} standing for an expert's number.
     */
    private record Conversion(String target, List<String> sources) {
    }

    /**
     * The conversions of transformers 5's {@code conversion_mapping.py} for the model types whose
     * definitions (mixtral.json, qwen3_moe.json) name each layer's experts as one fused tensor where
     * checkpoints store one tensor per expert: without them every checkpoint of those families would
     * be refused.
     */
    private static final Map<String, List<Conversion>> CONVERSIONS = Map.of(
            "mixtral", List.of(
                    new Conversion("mlp.gate.weight", List.of("block_sparse_moe.gate.weight")),
                    new Conversion("mlp.experts.gate_up_proj",
                            List.of("block_sparse_moe.experts.*.w1.weight", "block_sparse_moe.experts.*.w3.weight")),
                    new Conversion("mlp.experts.down_proj", List.of("block_sparse_moe.experts.*.w2.weight"))),
            "qwen3_moe", List.of(
                    new Conversion("mlp.experts.gate_up_proj",
                            List.of("mlp.experts.*.gate_proj.weight", "mlp.experts.*.up_proj.weight")),
                    new Conversion("mlp.experts.down_proj", List.of("mlp.experts.*.down_proj.weight"))));

    private MergekitWeights() {
    }

    /** The weights of definition {@code definition}, in its order; empty where the table has none. */
    static List<Weight> of(String definition) {
        return Table.BY_DEFINITION.getOrDefault(definition, List.of());
    }

    /** A required weight that a model lacks: the config key of the model's entry and what it lacks. */
    private record Missing(String key, String problem) {
    }

    /**
     * Checks that each model with a definition ({@link MergekitArchitectures#of}) holds, as stored,
     * the required weights of that definition that the merge reads from it: of a {@code slices:}
     * config, the weights before the layers in the first slice's sources, those of each layer a source
     * takes, those after the layers in the last slice's sources; of a {@code models:} config, all of
     * them in every model. A {@code modules:} config is laid out by {@link MergekitModules}.
     *
     * @param models the models by reference, as stored (not seen through {@link TiedHead}: mergekit
     *     reads a head that the model stores and finds no head that it does not)
     * @throws dev.mergeval.common.BadInputException naming the key of the first model that lacks one
     *     (such as {@code slices[1].sources[0]}), the model, the tensor and the definition
     */
    public static void check(MergeConfig config, Map<String, Checkpoint> models) {
        if (config.isModular()) {
            return;
        }
        List<Missing> missing = new ArrayList<>();
        Map<String, Set<String>> held = new HashMap<>();
        if (config.isSliced()) {
            List<MergeSlice> slices = config.slices();
            for (int i = 0; i < slices.size(); i++) {
                for (int j = 0; j < slices.get(i).sources().size(); j++) {
                    SliceSource s = slices.get(i).sources().get(j);
                    check("slices[" + i + "].sources[" + j + "]", s.model(), models.get(s.model()), i == 0,
                            s.start(), s.end(), i == slices.size() - 1, held, missing);
                }
            }
        } else {
            for (String ref : config.inputModels()) {
                int entry = config.models().stream().map(ModelEntry::model).toList().indexOf(ref);
                Checkpoint model = models.get(ref);
                check(entry < 0 ? "base_model" : "models[" + entry + "]", ref, model, true, 0,
                        MergeLayout.layerCount(model), true, held, missing);
            }
        }
        if (!missing.isEmpty()) {
            Missing first = missing.get(0);
            int others = missing.size() - 1;
            throw config.error(first.key(), first.problem() + (others == 0 ? ""
                    : "; " + others + " more required tensor" + (others == 1 ? " is" : "s are") + " missing"));
        }
    }

    /**
     * Adds to {@code missing} the required weights that model {@code ref}, the entry at {@code key},
     * lacks among those before the layers (where {@code pre}), of its layers {@code [start, end)} and
     * after the layers (where {@code post}).
     */
    private static void check(String key, String ref, Checkpoint model, boolean pre, int start, int end,
            boolean post, Map<String, Set<String>> held, List<Missing> missing) {
        Optional<MergekitArchitectures.Definition> definition = MergekitArchitectures.of(model.config());
        List<Weight> weights = definition.map(d -> of(d.name())).orElse(List.of());
        if (weights.isEmpty()) {
            return;
        }
        Set<String> names = held.computeIfAbsent(ref, r -> new HashSet<>(MergeInputs.weights(model)));
        String modelType = model.config().path("model_type").asText("");
        int layers = MergeLayout.layerCount(model);
        for (Weight w : weights) {
            // A buffer that the merge neither reads nor writes (MergeInputs.weights) is not required of it,
            // nor GPT-NeoX's causal-mask buffers, which transformers no longer saves (it rebuilds them).
            if (w.optional() || !MergeInputs.isWeight(w.names().get(0)) || MASK_BUFFER.matcher(w.names().get(0)).matches()) {
                continue;
            }
            Map<String, List<String>> needed = new LinkedHashMap<>();
            if (w.place() == Place.LAYER) {
                for (int layer = start; layer < end; layer++) {
                    needed.put("layer " + layer, w.at(layer, layers));
                }
            } else if (w.place() == Place.PRE ? pre : post) {
                needed.put(w.place() == Place.PRE ? "before the layers" : "after the layers", w.at(-1, layers));
            }
            needed.forEach((where, candidates) -> {
                if (candidates.stream().noneMatch(n -> names.contains(n) || converted(n, modelType, names))) {
                    missing.add(new Missing(key, "model '" + ref + "' has no tensor " + candidates.get(0)
                            + ", which mergekit's " + definition.get().name() + " definition requires (" + where + ")"));
                }
            });
        }
    }

    /** Whether mergekit's loader assembles {@code name} from tensors among {@code names} ({@link #CONVERSIONS}). */
    private static boolean converted(String name, String modelType, Set<String> names) {
        for (Conversion c : CONVERSIONS.getOrDefault(modelType, List.of())) {
            if (name.endsWith(c.target())) {
                String prefix = name.substring(0, name.length() - c.target().length());
                return c.sources().stream().allMatch(source -> holds(names, prefix + source));
            }
        }
        return false;
    }

    /** Whether {@code names} has {@code pattern}, its {@code *} (if any) standing for a number. */
    private static boolean holds(Set<String> names, String pattern) {
        int star = pattern.indexOf('*');
        if (star < 0) {
            return names.contains(pattern);
        }
        String before = pattern.substring(0, star);
        String after = pattern.substring(star + 1);
        return names.stream().anyMatch(n -> n.length() > before.length() + after.length() && n.startsWith(before)
                && n.endsWith(after) && n.substring(before.length(), n.length() - after.length()).matches("\\d+"));
    }

    private static Map<String, List<Weight>> load() {
        Map<String, List<Weight>> byDefinition = new HashMap<>();
        for (String[] f : MergekitArchitectures.rows(TABLE)) {
            byDefinition.computeIfAbsent(f[0], k -> new ArrayList<>()).add(new Weight(
                    Place.valueOf(f[1].toUpperCase(Locale.ROOT)), f[2].equals("optional"),
                    List.of(f[3].split("\\|")), f.length < 5 || f[4].isEmpty() ? List.of() : List.of(f[4].split("\\|"))));
        }
        byDefinition.replaceAll((definition, weights) -> List.copyOf(weights));
        return byDefinition;
    }
}
