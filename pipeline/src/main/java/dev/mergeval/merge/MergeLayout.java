package dev.mergeval.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.BadInputException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Where each output tensor of a {@code slices:} merge comes from, as mergekit's planner lays it
 * out: the pre-layer tensors (embeddings) merged from the first slice's sources at {@code t = 0};
 * then, slice after slice, layer {@code j} of a slice of {@code n} layers becomes output layer
 * {@code k} (numbered on across slices) and is merged from layer {@code start + j} of each of the
 * slice's sources at {@code t = j / (n - 1)} ({@code 1} when {@code n == 1}); last the other
 * non-layer tensors (final norm, LM head) from the last slice's sources, also at {@code t = 0}. The
 * tensors of an output layer are those of the first source's layer; every source must hold each in
 * the same shape (embeddings: the rows all sources have, {@link EmbeddingRows}) and a dtype it
 * merges with; the embedding and the head then keep the rows they both have.
 *
 * <p>Multi-token-prediction layers ({@link LayerPositions}: {@code num_nextn_predict_layers}, such as
 * GLM-4.5's {@code model.layers.46} after 46 layers) follow the output's last layer, numbered on
 * from it, merged from the same layers of the last slice's sources at {@code t = 1}, the position of
 * the last layer they read from; as many as every source of the last slice declares and holds.
 * mergekit leaves them out.
 *
 * <p>Output order: the reference model's (the base model, else the first slice's first source),
 * with layers renumbered; a layer tensor it does not hold (a deeper output) follows its last tensor
 * of that layer, or of its last layer. So a single slice over every layer of its models gives the
 * reference's names in its order, exactly the {@code models:} form.
 *
 * <p>A {@code modules:} config ({@link MergekitModules}) lays out each module so, over the module's
 * own tensors and layers, in the order the modules are written: its pre-layer tensors from its first
 * slice, its layers numbered from 0, the rest from its last slice. A tensor of none of the modules is
 * bad input naming it.
 *
 * <p>A value (serializable): it travels in the merge plan to the executors.
 *
 * @param numLayers the output's decoder layers (of a modules config, those of the module with the
 *     token embedding)
 * @param trailing the output's multi-token-prediction layers, after them
 * @param tensors every output tensor, in output order
 * @param layers each output layer's slice and the source layer of each of its models
 * @param layerKeys of a modules config, the {@code config.json} key counting each module's layers
 *     (dotted into a sub-config, as {@code text_config.num_hidden_layers}), by module; else empty
 */
public record MergeLayout(int numLayers, int trailing, List<Route> tensors, List<Layer> layers,
        Map<String, String> layerKeys) implements Serializable {

    /**
     * One output tensor.
     *
     * @param spec its name, dtype and shape (those of its inputs)
     * @param slice the slice that makes it (its parameters and models: {@link MergeConfig#forSlice})
     * @param t the gradient position its parameters are evaluated at
     * @param inputs the input tensor's name in each model, in that slice's
     *     {@link MergeConfig#inputModels()} order (the base model first where it takes part)
     */
    public record Route(TensorInfo spec, int slice, double t, Map<String, String> inputs) implements Serializable {
        public Route {
            inputs = Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        }

        public String name() {
            return spec.name();
        }
    }

    /**
     * One output layer, for provenance.
     *
     * @param layer its index in the output (in its module's layers)
     * @param slice the slice it comes from
     * @param sources the layer of each source model it is merged from
     * @param module its module, of a {@code modules:} config; else null
     */
    public record Layer(int layer, int slice, Map<String, Integer> sources, String module) implements Serializable {
        public Layer {
            sources = Collections.unmodifiableMap(new LinkedHashMap<>(sources));
        }
    }

    public MergeLayout {
        tensors = List.copyOf(tensors);
        layers = List.copyOf(layers);
        layerKeys = Collections.unmodifiableMap(new LinkedHashMap<>(layerKeys));
    }

    /**
     * The {@code config.json} keys that hold one entry per decoder layer. transformers requires
     * {@code layer_types} to have {@code num_hidden_layers} entries, and each entry (sliding or full
     * attention, RoPE or none) belongs to the weights of its layer.
     */
    private static final List<String> PER_LAYER_KEYS = List.of("layer_types", "no_rope_layers");

    private static final String SLIDING = "sliding_attention";
    private static final String FULL = "full_attention";

    /**
     * Lays out the per-layer lists ({@link #PER_LAYER_KEYS}) of the output's {@code config} over the
     * output layers: entry {@code k} is the entry of the layer that output layer {@code k} comes
     * from, in the config of its slice's first source ({@code configOf}, by model reference), else
     * in {@code config}'s own list. A list that some layer finds no entry in is removed, so that
     * transformers derives it (a list of another length fails to load). Then, without a
     * {@code layer_types}, the types transformers derives from each layer's index follow their
     * layers too ({@link #writeDerivedLayerTypes}).
     */
    public void layOutPerLayerKeys(ObjectNode config, Function<String, JsonNode> configOf) {
        if (layerKeys.isEmpty()) {
            layOutPerLayerKeys(config, configOf, layers);
            return;
        }
        // Each module's lists are in the (sub-)config that counts its layers.
        layerKeys.forEach((module, key) -> {
            int dot = key.lastIndexOf('.');
            String sub = dot < 0 ? null : key.substring(0, dot);
            JsonNode own = sub == null ? config : at(config, sub);
            if (own instanceof ObjectNode node) {
                layOutPerLayerKeys(node, ref -> sub == null ? configOf.apply(ref) : at(configOf.apply(ref), sub),
                        layers.stream().filter(l -> module.equals(l.module())).toList());
            }
        });
    }

    /** The node at a dotted {@code path} under {@code node}, or null. */
    static JsonNode at(JsonNode node, String path) {
        for (String part : path.split("\\.")) {
            node = node == null ? null : node.get(part);
        }
        return node;
    }

    private static void layOutPerLayerKeys(ObjectNode config, Function<String, JsonNode> configOf, List<Layer> layers) {
        for (String key : PER_LAYER_KEYS) {
            JsonNode own = config.get(key);
            if (own == null || !own.isArray()) {
                continue;
            }
            ArrayNode out = config.arrayNode();
            for (Layer layer : layers) {
                Map.Entry<String, Integer> first = layer.sources().entrySet().iterator().next();
                JsonNode model = configOf.apply(first.getKey());
                JsonNode list = model == null ? null : model.get(key);
                JsonNode entry = (list != null && list.isArray() ? list : own).get(first.getValue());
                if (entry == null) {
                    out = null;
                    break;
                }
                out.add(entry);
            }
            if (out == null) {
                config.remove(key);
            } else {
                config.set(key, out);
            }
        }
        writeDerivedLayerTypes(config, configOf, layers);
    }

    /**
     * Where {@code config} has no {@code layer_types} and transformers derives each layer's attention
     * from its index (below), writes the list of the source layers' types wherever that index rule
     * would give an output layer another type than its source layer had: a frankenmerge of Gemma 3
     * (a full-attention layer every sixth) stacking ranges that do not start at a multiple of six,
     * or of Qwen2/3 with sliding windows above {@code max_window_layers}. transformers 4.53 and
     * later read the list; older versions ignore it.
     */
    private static void writeDerivedLayerTypes(ObjectNode config, Function<String, JsonNode> configOf,
            List<Layer> layers) {
        if (config.has("layer_types")) {
            return;
        }
        ArrayNode types = config.arrayNode();
        boolean moved = false;
        for (Layer layer : layers) {
            Map.Entry<String, Integer> first = layer.sources().entrySet().iterator().next();
            JsonNode model = configOf.apply(first.getKey());
            String source = derivedLayerType(model == null ? config : model, first.getValue());
            String output = derivedLayerType(config, layer.layer());
            if (source == null || output == null) {
                return;
            }
            types.add(source);
            moved |= !source.equals(output);
        }
        if (moved) {
            config.set("layer_types", types);
        }
    }

    /**
     * The attention type transformers' config gives layer {@code i} of a model whose
     * {@code config.json} lists no {@code layer_types}, or null where it derives none from the index:
     * Qwen2/3 (and their MoE) slide above {@code max_window_layers} when {@code use_sliding_window}
     * is set; Gemma 2 every other layer, Gemma 3 and Cohere 2 all but every
     * {@code sliding_window_pattern}-th (6 and 4 by default).
     */
    static String derivedLayerType(JsonNode config, int i) {
        int pattern;
        switch (config.path("model_type").asText("")) {
            case "qwen2", "qwen2_moe", "qwen3", "qwen3_moe" -> {
                boolean sliding = config.path("use_sliding_window").asBoolean(false)
                        && config.hasNonNull("sliding_window") && i >= config.path("max_window_layers").asInt(28);
                return sliding ? SLIDING : FULL;
            }
            case "gemma2" -> pattern = 2;
            case "gemma3_text" -> pattern = config.path("sliding_window_pattern").asInt(6);
            case "cohere2" -> pattern = config.path("sliding_window_pattern").asInt(4);
            default -> {
                return null;
            }
        }
        return pattern <= 0 ? null : (i + 1) % pattern != 0 ? SLIDING : FULL;
    }

    /** The output tensors by name, in output order. */
    public Map<String, Route> byName() {
        Map<String, Route> index = new LinkedHashMap<>();
        tensors.forEach(r -> index.put(r.name(), r));
        return index;
    }

    /**
     * Lays out the sliced {@code config} over its open {@code models} (by reference), from their
     * headers. A layer range beyond its model, or inputs that disagree, are bad input naming the key
     * (such as {@code slices[1].sources[0].layer_range}) or the tensors.
     */
    public static MergeLayout of(MergeConfig config, Map<String, Checkpoint> models) {
        List<MergeSlice> slices = config.slices();
        Checkpoint reference = models.get(config.referenceModel());
        Map<String, LayerStack> stacks = config.isModular() ? MergekitModules.stacks(reference)
                : Map.of(MergekitModules.DEFAULT, LayerStack.WHOLE);
        for (int i = 0; i < slices.size(); i++) {
            LayerStack stack = stackOf(slices.get(i), stacks);
            for (int j = 0; j < slices.get(i).sources().size(); j++) {
                SliceSource s = slices.get(i).sources().get(j);
                int n = stack.layerCount(models.get(s.model()));
                if (s.end() > n) {
                    throw config.error(sliceKey(config, i) + ".sources[" + j + "].layer_range", "[" + s.start() + ", "
                            + s.end() + ") is outside model '" + s.model() + "', which has " + n + " layers [0, "
                            + n + ")" + (config.isModular() ? " in module " + stack.module() : ""));
                }
            }
        }
        if (stacks.containsKey(MergekitModules.DEFAULT)) {
            models.forEach((ref, model) -> {
                List<String> names = MergeInputs.weights(model).stream().map(TensorMerger::layerStack)
                        .filter(Objects::nonNull).distinct().toList();
                if (names.size() > 1) {
                    String key = config.isModular() ? "modules." + MergekitModules.DEFAULT : "slices";
                    throw config.error(key, "model '" + ref + "' has " + names.size() + " stacks of layers "
                            + names + " (a multimodal model?), which layer ranges would mix; merge it with models:,"
                            + " or with modules: where mergekit defines its modules");
                }
            });
        }
        Map<String, Function<String, LayerStack>> moduleOf = new HashMap<>();
        models.forEach((ref, model) -> moduleOf.put(ref, modules(config, ref, model, stacks)));
        Function<String, LayerStack> referenceModules = moduleOf.get(config.referenceModel());
        List<Route> routes = new ArrayList<>();
        List<Layer> layers = new ArrayList<>();
        Map<String, String> layerKeys = new LinkedHashMap<>();
        int decoderLayers = -1;
        int trailing = 0;
        for (int first = 0; first < slices.size(); ) {
            LayerStack stack = stackOf(slices.get(first), stacks);
            int last = first;
            String module = slices.get(first).module();
            while (last + 1 < slices.size() && Objects.equals(slices.get(last + 1).module(), module)) {
                last++;
            }
            Map<String, Map<Integer, List<String>>> byLayer = new HashMap<>();
            models.forEach((ref, model) -> byLayer.put(ref, byLayer(model, stack, moduleOf.get(ref))));
            boolean embedding = false;
            for (String name : MergeInputs.weights(reference)) {
                if (referenceModules.apply(name) == stack && stack.layerIndex(name) < 0) {
                    // mergekit plans them with its module-level reader, which stays at t = 0.
                    int slice = stack.isPre(name) ? first : last;
                    routes.add(route(config, models, stack, slice, 0.0, name, name, Map.of()));
                    embedding |= EmbeddingRows.isEmbedding(name);
                }
            }
            int before = layers.size();
            String layerModule = config.isModular() ? stack.module() : null;
            for (int i = first; i <= last; i++) {
                List<SliceSource> sources = slices.get(i).sources();
                int n = slices.get(i).layers();
                for (int j = 0; j < n; j++) {
                    int k = layers.size() - before;
                    Map<String, Integer> from = new LinkedHashMap<>();
                    for (SliceSource s : sources) {
                        from.put(s.model(), s.start() + j);
                    }
                    layers.add(new Layer(k, i, from, layerModule));
                    double t = n > 1 ? j / (double) (n - 1) : 1.0;
                    SliceSource firstSource = sources.get(0);
                    List<String> names = byLayer.get(firstSource.model())
                            .getOrDefault(firstSource.start() + j, List.of());
                    for (String name : names) {
                        routes.add(route(config, models, stack, i, t, stack.withLayerIndex(name, k), name, from));
                    }
                    for (SliceSource s : sources) {
                        int have = byLayer.get(s.model()).getOrDefault(s.start() + j, List.of()).size();
                        int want = names.size();
                        if (have != want) {
                            throw config.error(sliceKey(config, i) + ".sources", "layer " + (s.start() + j) + " of '"
                                    + s.model() + "' has " + have + " tensors, layer " + (firstSource.start() + j)
                                    + " of '" + firstSource.model() + "' has " + want);
                        }
                    }
                }
            }
            if (stack == LayerStack.WHOLE) {
                List<SliceSource> lastSources = slices.get(last).sources();
                trailing = lastSources.stream()
                        .mapToInt(s -> trailingHeld(models.get(s.model()), byLayer.get(s.model()))).min().orElse(0);
                for (int k = 0; k < trailing; k++) {
                    Map<String, Integer> from = new LinkedHashMap<>();
                    for (SliceSource s : lastSources) {
                        from.put(s.model(), layerCount(models.get(s.model())) + k);
                    }
                    SliceSource firstSource = lastSources.get(0);
                    for (String name : byLayer.get(firstSource.model()).get(from.get(firstSource.model()))) {
                        routes.add(route(config, models, stack, last, 1.0,
                                TensorMerger.withLayerIndex(name, layers.size() + k), name, from));
                    }
                }
            } else if (stack.layersKey() != null) {
                layerKeys.put(stack.module(), stack.layersKey());
            }
            if (embedding || decoderLayers < 0) {
                decoderLayers = layers.size() - before;
            }
            first = last + 1;
        }
        routes = withCommonTokenRows(routes);
        checkInputs(config, models, routes);
        return new MergeLayout(config.isModular() ? decoderLayers : layers.size(), trailing, ordered(routes, reference),
                layers, layerKeys);
    }

    /** The stack a slice lays out: its module's, or the whole model's. */
    private static LayerStack stackOf(MergeSlice slice, Map<String, LayerStack> stacks) {
        return slice.module() == null ? LayerStack.WHOLE : stacks.get(slice.module());
    }

    /**
     * Where {@code model}'s tensors belong among {@code stacks}: every tensor to the whole model's
     * stack, except for a modules config, where a tensor of the reference model in no module is
     * bad input naming it.
     */
    private static Function<String, LayerStack> modules(MergeConfig config, String ref, Checkpoint model,
            Map<String, LayerStack> stacks) {
        if (!config.isModular()) {
            return name -> LayerStack.WHOLE;
        }
        Map<String, LayerStack> of = new HashMap<>();
        boolean reference = ref.equals(config.referenceModel());
        for (String name : MergeInputs.weights(model)) {
            LayerStack stack = MergekitModules.moduleOf(name, stacks);
            if (stack == null && reference) {
                throw config.error("modules", "model '" + ref + "' tensor " + name + " is in none of the modules "
                        + String.join(", ", stacks.keySet()) + " of its architecture as mergekit defines them"
                        + " (mergekit would leave it out); merge the model with models:");
            }
            of.put(name, stack);
        }
        return of::get;
    }

    /** The key of slice {@code index} in the config as written, for errors. */
    private static String sliceKey(MergeConfig config, int index) {
        String module = config.slices().get(index).module();
        if (module == null) {
            return "slices[" + index + "]";
        }
        int first = index;
        while (first > 0 && module.equals(config.slices().get(first - 1).module())) {
            first--;
        }
        boolean asModels = config.modules().stream().anyMatch(m -> m.name().equals(module) && m.slices().isEmpty());
        return "modules." + module + (asModels ? ".models" : ".slices[" + (index - first) + "]");
    }

    /**
     * The routes with every token matrix (embedding, output head: {@link EmbeddingRows}) cut to the
     * rows that all of them have, the {@code models:} form's rule applied across slices: the
     * embedding comes from the first slice's sources and the head from the last's, and a model
     * that added tokens would otherwise give them different rows, an output no loader takes.
     * mergekit writes the two sizes as they come. With {@code tokenizer_source} every input
     * already has the output vocabulary's rows.
     */
    private static List<Route> withCommonTokenRows(List<Route> routes) {
        long rows = routes.stream().filter(MergeLayout::isTokenMatrix).mapToLong(r -> r.spec().shape()[0]).min()
                .orElse(0);
        return routes.stream().map(r -> !isTokenMatrix(r) || r.spec().shape()[0] == rows ? r
                : new Route(new TensorInfo(r.name(), r.spec().dtype(), new long[] {rows, r.spec().shape()[1]}),
                        r.slice(), r.t(), r.inputs())).toList();
    }

    private static boolean isTokenMatrix(Route r) {
        return EmbeddingRows.isEmbedding(r.name()) && r.spec().shape().length == 2;
    }

    /**
     * The route of output tensor {@code out} of slice {@code slice}, read as {@code name} with its
     * layer index replaced by each model's source layer in {@code from} (as is where it has none).
     */
    private static Route route(MergeConfig config, Map<String, Checkpoint> models, LayerStack stack, int slice,
            double t, String out, String name, Map<String, Integer> from) {
        Map<String, String> inputs = new LinkedHashMap<>();
        for (String model : config.forSlice(slice).inputModels()) {
            inputs.put(model, from.containsKey(model) ? stack.withLayerIndex(name, from.get(model)) : name);
        }
        String firstModel = inputs.keySet().iterator().next();
        Checkpoint first = models.get(firstModel);
        String firstName = inputs.get(firstModel);
        if (!first.contains(firstName)) {
            throw config.error(sliceKey(config, slice) + ".sources", "model '" + firstModel + "' has no tensor '"
                    + firstName + "'");
        }
        TensorInfo info = first.info(firstName);
        List<long[]> shapes = new ArrayList<>();
        inputs.forEach((model, input) -> {
            if (models.get(model).contains(input)) {
                shapes.add(models.get(model).info(input).shape());
            }
        });
        long[] common = EmbeddingRows.common(out, shapes);
        return new Route(new TensorInfo(out, info.dtype(), common != null ? common : info.shape()), slice, t, inputs);
    }

    /**
     * Every input of every route exists with the route's shape (an embedding: at least its rows)
     * and a dtype it merges with ({@link MergeInputs#mergeTogether}); all problems in one error.
     */
    private static void checkInputs(MergeConfig config, Map<String, Checkpoint> models, List<Route> routes) {
        List<String> problems = new ArrayList<>();
        for (Route r : routes) {
            r.inputs().forEach((model, name) -> {
                Checkpoint c = models.get(model);
                if (!c.contains(name)) {
                    problems.add("model '" + model + "' lacks tensor " + name + " (for " + r.name() + ")");
                    return;
                }
                TensorInfo have = c.info(name);
                if (!EmbeddingRows.supplies(r.name(), have.shape(), r.spec().shape())
                        || !MergeInputs.mergeTogether(have.dtype(), r.spec().dtype())) {
                    problems.add("model '" + model + "' tensor " + name + " is " + have.dtype()
                            + Arrays.toString(have.shape()) + ", the other inputs of " + r.name() + " are "
                            + r.spec().dtype() + Arrays.toString(r.spec().shape()));
                }
            });
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(config.sourceName() + ": " + (config.isModular() ? "modules" : "slices")
                    + ": inputs are not compatible ("
                    + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "): "
                    + String.join("; ", problems));
        }
    }

    /** The routes in the reference's order (see the class comment). */
    private static List<Route> ordered(List<Route> routes, Checkpoint reference) {
        Map<String, Integer> rank = new HashMap<>();
        Map<Integer, Integer> lastOfLayer = new HashMap<>();
        List<String> names = MergeInputs.weights(reference);
        int deepest = -1;
        for (int i = 0; i < names.size(); i++) {
            rank.put(names.get(i), i);
            int layer = TensorMerger.layerIndex(names.get(i));
            if (layer >= 0) {
                lastOfLayer.put(layer, i);
                deepest = Math.max(deepest, layer);
            }
        }
        int last = deepest;
        Map<String, long[]> key = new HashMap<>();
        for (int i = 0; i < routes.size(); i++) {
            Route r = routes.get(i);
            Integer own = rank.get(r.name());
            if (own != null) {
                key.put(r.name(), new long[] {own, -1});
            } else {
                int layer = Math.min(TensorMerger.layerIndex(r.name()), last);
                key.put(r.name(), new long[] {lastOfLayer.getOrDefault(layer, -1), i});
            }
        }
        List<Route> out = new ArrayList<>(routes);
        out.sort(Comparator.<Route>comparingLong(r -> key.get(r.name())[0])
                .thenComparingLong(r -> key.get(r.name())[1]));
        return out;
    }

    /**
     * How many of the multi-token-prediction layers that {@code model}'s config declares
     * ({@link LayerPositions#trailingLayers}) it holds, in order after its last layer.
     */
    private static int trailingHeld(Checkpoint model, Map<Integer, List<String>> byLayer) {
        int count = layerCount(model);
        int held = 0;
        while (held < LayerPositions.trailingLayers(model.config()) && byLayer.containsKey(count + held)) {
            held++;
        }
        return held;
    }

    /**
     * Sets the output {@code config}'s layer count ({@link #setLayerCount}) and, where it declares
     * multi-token-prediction layers, their number here.
     */
    public void writeLayerCounts(ObjectNode config) {
        if (!layerKeys.isEmpty()) {
            // mergekit's set_config_value of each module's num_layers_config_key.
            layerKeys.forEach((module, key) -> {
                int dot = key.lastIndexOf('.');
                JsonNode parent = dot < 0 ? config : at(config, key.substring(0, dot));
                if (parent instanceof ObjectNode node) {
                    long count = layers.stream().filter(l -> module.equals(l.module())).count();
                    node.put(key.substring(dot + 1), (int) count);
                }
            });
            return;
        }
        setLayerCount(config, numLayers);
        if (config.has(LayerPositions.TRAILING_KEY)) {
            config.put(LayerPositions.TRAILING_KEY, trailing);
        }
    }

    /** The tensors of each layer of {@code model} in {@code stack} ({@code moduleOf} tells), in its order. */
    private static Map<Integer, List<String>> byLayer(Checkpoint model, LayerStack stack,
            Function<String, LayerStack> moduleOf) {
        Map<Integer, List<String>> layers = new HashMap<>();
        for (String name : MergeInputs.weights(model)) {
            int layer = moduleOf.apply(name) == stack ? stack.layerIndex(name) : -1;
            if (layer >= 0) {
                layers.computeIfAbsent(layer, l -> new ArrayList<>()).add(name);
            }
        }
        return layers;
    }

    /**
     * The keys by which families' {@code config.json} count their layers, as mergekit's
     * architectures name them ({@code num_layers_config_key}): Llama and most others
     * {@code num_hidden_layers}, GPT-2, GPT-J, GPTBigCode, Bloom and Phi-1 {@code n_layer}, and
     * others' {@code num_layers}, {@code n_layers}, {@code num_decoder_layers}.
     */
    static final List<String> LAYER_COUNT_KEYS =
            List.of("num_hidden_layers", "n_layer", "num_layers", "n_layers", "num_decoder_layers");

    /** The layer count from config.json (its family's key), else one more than the highest layer index seen. */
    public static int layerCount(Checkpoint model) {
        JsonNode config = model.config();
        for (String key : LAYER_COUNT_KEYS) {
            if (config != null && config.path(key).isInt()) {
                return config.get(key).asInt();
            }
        }
        int max = -1;
        for (String name : model.tensorNames()) {
            max = Math.max(max, TensorMerger.layerIndex(name));
        }
        return max + 1;
    }

    /**
     * Sets an output {@code config.json}'s layer count to {@code layers} under the key(s) its family
     * counts by ({@link #LAYER_COUNT_KEYS}), {@code num_hidden_layers} where it has none: a GPT-2
     * config keeps {@code n_layer}, which mergekit sets and every loader reads.
     */
    public static void setLayerCount(ObjectNode config, int layers) {
        boolean set = false;
        for (String key : LAYER_COUNT_KEYS) {
            if (config.path(key).isInt()) {
                config.put(key, layers);
                set = true;
            }
        }
        if (!set) {
            config.put("num_hidden_layers", layers);
        }
    }
}
