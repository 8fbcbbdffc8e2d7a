package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The modules of mergekit's modular architectures (a vision-language model's {@code text_decoder},
 * {@code vision_tower} and {@code multi_modal_projector}; T5's and Whisper's encoder and decoder),
 * from the table of its definitions ({@code mergekit-modules.tsv}, written by
 * {@code docs/checks/mergekit_modules.sh}), and a {@code modules:} config laid out over them as
 * mergekit's planner normalizes one ({@code MergePlanner.normalize_config}): a module's
 * {@code models} become one slice over all of the module's layers in each model (the base model
 * added where it is not listed), its {@code parameters} are looked up after a slice's and before the
 * global ones. A model of any other architecture has one module, {@code default}: all its tensors.
 *
 * <p>A tensor belongs to the module one of whose weights it is (the module's
 * {@code weight_prefix} and the weight's name, {@code ${layer_index}} standing for a layer number);
 * a tensor the definition does not list (mergekit leaves those out of its output) belongs to the
 * module whose layers' names it continues, else the module whose non-empty prefix it has. A modules
 * config must list every module its models have: mergekit writes none of the tensors of a module it
 * does not list, an output that no loader takes.
 */
public final class MergekitModules {

    /** The one module of a model whose architecture mergekit does not define by modules. */
    public static final String DEFAULT = "default";

    private static final String TABLE = "/dev/mergeval/merge/mergekit-modules.tsv";
    private static final String LAYER_INDEX = "${layer_index}";

    /** The table, read when a modules config is first laid out (a plain merge never reads it). */
    private static final class Table {
        static final Map<String, List<Module>> BY_DEFINITION = load();
    }

    private MergekitModules() {
    }

    /**
     * One module of a definition: where its tensors are and how its layers are counted.
     *
     * @param name the module's name ({@code text_decoder}, ...)
     * @param prefix its {@code weight_prefix}, empty where it has none
     * @param layersKey the {@code config.json} key (dotted into sub-configs) counting its layers,
     *     empty for a module without layers (a projector)
     * @param pre its weights before the layers, with their aliases, prefixed
     * @param post its weights after the layers, prefixed
     * @param layers its layer weights' names, prefixed, {@code ${layer_index}} in place of the number
     * @param stems a pattern per start of a layer weight's name up to its layer number (the number
     *     its group 1): every tensor of the module's layers matches one, listed or not
     */
    record Module(String name, String prefix, String layersKey, Set<String> pre, Set<String> post,
            Set<String> layers, List<Pattern> stems) implements LayerStack {

        @Override
        public String module() {
            return name;
        }

        @Override
        public String layersKey() {
            return layersKey.isEmpty() ? null : layersKey;
        }

        @Override
        public int layerIndex(String tensor) {
            Matcher m = layerMatch(tensor);
            return m == null ? -1 : Integer.parseInt(m.group(1));
        }

        @Override
        public String withLayerIndex(String tensor, int layer) {
            Matcher m = layerMatch(tensor);
            return m == null ? tensor : tensor.substring(0, m.start(1)) + layer + tensor.substring(m.end(1));
        }

        @Override
        public boolean isPre(String tensor) {
            return pre.contains(tensor);
        }

        @Override
        public int layerCount(Checkpoint model) {
            if (layersKey.isEmpty()) {
                return 0;
            }
            JsonNode node = MergeLayout.at(model.config(), layersKey);
            if (node == null || !node.canConvertToInt()) {
                return -1;
            }
            return node.asInt();
        }

        /** Whether {@code tensor} is one of the module's listed weights. */
        boolean lists(String tensor) {
            if (pre.contains(tensor) || post.contains(tensor)) {
                return true;
            }
            Matcher m = layerMatch(tensor);
            return m != null
                    && layers.contains(tensor.substring(0, m.start(1)) + LAYER_INDEX + tensor.substring(m.end(1)));
        }

        /** Whether {@code tensor}, listed by no module, continues one of this module's layer names. */
        boolean continues(String tensor) {
            return layerMatch(tensor) != null;
        }

        private Matcher layerMatch(String tensor) {
            for (Pattern p : stems) {
                Matcher m = p.matcher(tensor);
                if (m.matches()) {
                    return m;
                }
            }
            return null;
        }
    }

    /**
     * The modules of the architecture of a model with this {@code config.json} (as
     * {@link MergekitArchitectures} finds mergekit's definition), in the definition's order; one
     * {@link #DEFAULT} module where the definition has no modules, or there is none.
     */
    static List<LayerStack> modulesOf(ObjectNode config) {
        Optional<MergekitArchitectures.Definition> definition = MergekitArchitectures.of(config);
        List<Module> modules = definition.map(d -> Table.BY_DEFINITION.get(d.name())).orElse(null);
        return modules == null ? List.of(LayerStack.WHOLE) : List.copyOf(modules);
    }

    /** {@code module}'s slices with its parameters folded in behind each slice's own, tagged with its name. */
    static List<MergeSlice> folded(MergeModule module) {
        return module.slices().stream().map(s -> new MergeSlice(s.sources(),
                MergeConfig.inFrontOf(s.parameters(), module.parameters()), s.baseModel(), module.name())).toList();
    }

    /**
     * {@code config} with its {@code modules:} laid out as slices over the open {@code models}' modules
     * (see the class comment); any other config as it is, and a config already laid out too.
     *
     * @throws dev.mergeval.common.BadInputException naming {@code modules} where the config lists a
     *     module the models do not have or leaves one out, or {@code modules.NAME.models} where a
     *     model's config does not count the module's layers or two models have different counts
     */
    public static MergeConfig resolve(MergeConfig config, Map<String, Checkpoint> models) {
        if (!config.isModular() || !config.slices().isEmpty()) {
            return config;
        }
        String referenceRef = config.referenceModel();
        Map<String, LayerStack> available = stacks(models.get(referenceRef));
        Set<String> listed = new HashSet<>();
        for (MergeModule module : config.modules()) {
            listed.add(module.name());
            if (!available.containsKey(module.name())) {
                throw config.error("modules." + module.name(), "model '" + referenceRef + "' "
                        + architecture(models.get(referenceRef)) + " has no module '" + module.name()
                        + "'; its modules: " + String.join(", ", available.keySet()));
            }
        }
        List<String> missing = available.keySet().stream().filter(m -> !listed.contains(m)).toList();
        if (!missing.isEmpty()) {
            throw config.error("modules", "model '" + referenceRef + "' " + architecture(models.get(referenceRef))
                    + " has modules " + String.join(", ", available.keySet()) + "; list " + String.join(", ", missing)
                    + " too (mergekit would write none of " + (missing.size() == 1 ? "its" : "their")
                    + " tensors, an output no loader takes)");
        }
        List<MergeSlice> slices = new ArrayList<>();
        for (MergeModule module : config.modules()) {
            if (!module.slices().isEmpty()) {
                slices.addAll(folded(module));
                continue;
            }
            LayerStack stack = available.get(module.name());
            List<ModelEntry> entries = new ArrayList<>(module.models());
            config.baseModel().filter(b -> entries.stream().noneMatch(e -> e.model().equals(b)))
                    .ifPresent(b -> entries.add(new ModelEntry(b, Map.of())));
            List<SliceSource> sources = new ArrayList<>();
            for (ModelEntry entry : entries) {
                int layers = stack.layerCount(models.get(entry.model()));
                String where = "modules." + module.name() + ".models";
                if (layers < 0) {
                    throw config.error(where, "model '" + entry.model() + "': its config.json has no integer "
                            + stack.layersKey() + ", the layer count of module " + module.name());
                }
                if (!sources.isEmpty() && sources.get(0).layers() != layers) {
                    throw config.error(where, "model '" + entry.model() + "' has " + layers + " layers in module "
                            + module.name() + ", model '" + sources.get(0).model() + "' has "
                            + sources.get(0).layers());
                }
                sources.add(new SliceSource(entry.model(), 0, layers, entry.parameters()));
            }
            slices.add(new MergeSlice(sources, module.parameters(), null, module.name()));
        }
        return config.withSlices(slices);
    }

    /** The stacks of a laid-out modules config's reference model, by module name. */
    static Map<String, LayerStack> stacks(Checkpoint reference) {
        Map<String, LayerStack> stacks = new LinkedHashMap<>();
        modulesOf(reference.config()).forEach(m -> stacks.put(m.module(), m));
        return stacks;
    }

    /**
     * The module {@code tensor} belongs to among {@code modules} (see the class comment), or null.
     */
    static LayerStack moduleOf(String tensor, Map<String, LayerStack> modules) {
        if (modules.containsKey(DEFAULT)) {
            return modules.get(DEFAULT);
        }
        // Every stack of a modular definition is one of its Modules.
        List<Module> defined = modules.values().stream().map(Module.class::cast).toList();
        Optional<Module> found = defined.stream().filter(m -> m.lists(tensor)).findFirst()
                .or(() -> defined.stream().filter(m -> m.continues(tensor)).findFirst())
                .or(() -> defined.stream().filter(m -> !m.prefix().isEmpty() && tensor.startsWith(m.prefix()))
                        .max(Comparator.comparingInt(m -> m.prefix().length())));
        return found.orElse(null);
    }

    private static String architecture(Checkpoint model) {
        JsonNode names = model.config() == null ? null : model.config().path("architectures");
        return names != null && names.isArray() && !names.isEmpty() ? "(" + names.get(0).asText() + ")"
                : "(no architectures in its config.json)";
    }

    private static Map<String, List<Module>> load() {
        Map<String, Map<String, List<String[]>>> rows = new LinkedHashMap<>();
        for (String[] f : MergekitArchitectures.rows(TABLE)) {
            rows.computeIfAbsent(f[0], k -> new LinkedHashMap<>())
                    .computeIfAbsent(f[1], k -> new ArrayList<>()).add(f);
        }
        Map<String, List<Module>> byDefinition = new LinkedHashMap<>();
        rows.forEach((definition, modules) -> {
            List<Module> list = new ArrayList<>();
            modules.forEach((name, weights) -> list.add(module(name, weights)));
            byDefinition.put(definition, List.copyOf(list));
        });
        return byDefinition;
    }

    private static Module module(String name, List<String[]> weights) {
        String prefix = weights.get(0)[2];
        Set<String> pre = new HashSet<>();
        Set<String> post = new HashSet<>();
        Set<String> layers = new HashSet<>();
        Set<String> stems = new LinkedHashSet<>();
        for (String[] w : weights) {
            for (String weight : w[5].split("\\|")) {
                String full = prefix + weight;
                int at = full.indexOf(LAYER_INDEX);
                switch (at < 0 && w[4].equals("layer") ? "pre" : w[4]) {
                    // A "layer" weight without a layer index (Qwen2-VL's projector, whose definition
                    // repeats its weights as override_num_layers layers) is the module's own weight.
                    case "pre" -> pre.add(full);
                    case "post" -> post.add(full);
                    default -> {
                        layers.add(full);
                        stems.add(full.substring(0, at));
                    }
                }
            }
        }
        List<Pattern> stemPatterns = stems.stream()
                .map(stem -> Pattern.compile(Pattern.quote(stem) + "(\\d+)(?:\\..*)?")).toList();
        return new Module(name, prefix, weights.get(0)[3], pre, post, layers, stemPatterns);
    }
}
