package dev.mergeval.merge;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import dev.mergeval.merge.methods.PassthroughMerge;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Merges tensors for one config: resolves each tensor's parameters (gradients by layer position,
 * name filters, model then global then default, as mergekit's {@code ConfigReader.parameter}) and
 * runs the method on {@code float[]} inputs. Thread-safe; resolved parameters are cached per
 * tensor name.
 *
 * <p>Gradient positions {@code t}, as mergekit's planner, are those of {@link LayerPositions}.
 *
 * <p>A {@code slices:} config merges with its {@link MergeLayout}: each output tensor is merged
 * from its route's input tensors, as the {@code models:} config of its slice
 * ({@link MergeConfig#forSlice}) at the route's {@code t}; per-model settings are matched against
 * the input tensor's name, global ones against the output's (as mergekit's planner).
 */
public final class TensorMerger {
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)\\.");
    /** Input embeddings; GPT-NeoX's output head {@code embed_out} is a post-layer weight, as in mergekit's architecture. */
    private static final Pattern PRE_WEIGHT = Pattern.compile("embed(?!_out\\.)|(?:^|\\.)(?:wte|wpe)\\.");

    private final MergeConfig config;
    private final MergeMethod method;
    /** What merges a slice's one model where the method keeps it as it is. */
    private static final MergeMethod LONE = new PassthroughMerge();
    private final LayerPositions positions;
    private final List<String> models;
    private final PlanAnalysis analysis;
    private final Map<String, MergeLayout.Route> routes;
    private final List<MergeConfig> slices;
    /** The parameters a plan resolved, by tensor name, read as they are (not copied: a plan has one per tensor). */
    private final Map<String, TensorParams> planned;
    /** The parameters resolved here, of tensors {@link #planned} lacks. */
    private final Map<String, TensorParams> resolved = new ConcurrentHashMap<>();
    /**
     * Each distinct set of resolved values once: most tensors share theirs (no gradient or filter
     * sets them apart), and a plan holds every tensor's, three maps a tensor otherwise.
     */
    private final Map<Map<String, Object>, Params> distinct = new ConcurrentHashMap<>();

    private TensorMerger(MergeConfig config, LayerPositions positions, PlanAnalysis analysis, MergeLayout layout,
            Map<String, TensorParams> planned) {
        this.config = config;
        this.planned = planned;
        this.method = config.method();
        this.positions = positions;
        this.models = config.inputModels();
        this.analysis = analysis;
        this.routes = layout == null ? null : layout.byName();
        List<MergeConfig> views = new ArrayList<>();
        for (int i = 0; i < config.slices().size(); i++) {
            views.add(config.forSlice(i));
        }
        this.slices = List.copyOf(views);
    }

    /** A merger for {@code config} over a model with {@code numLayers} decoder layers. */
    public static TensorMerger create(MergeConfig config, int numLayers) {
        return create(config, numLayers, PlanAnalysis.NONE);
    }

    /** A merger that hands the method the decisions of its plan-time {@code analysis}. */
    public static TensorMerger create(MergeConfig config, int numLayers, PlanAnalysis analysis) {
        return create(config, numLayers, analysis, Map.of());
    }

    /**
     * Like {@link #create(MergeConfig, int, PlanAnalysis)}, starting from the parameters of the
     * tensors in {@code resolved} (by name, from {@link #params(List)} of an equal merger, as a plan
     * carries them), so that they are not resolved again. The map is read where it is, not copied,
     * and must not change.
     */
    public static TensorMerger create(MergeConfig config, int numLayers, PlanAnalysis analysis,
            Map<String, TensorParams> resolved) {
        return create(config, numLayers, analysis, resolved, null);
    }

    /**
     * Like {@link #create(MergeConfig, int, PlanAnalysis, Map)}, for a {@code slices:} config with
     * its {@code layout} (null for a {@code models:} config, which needs none).
     */
    public static TensorMerger create(MergeConfig config, int numLayers, PlanAnalysis analysis,
            Map<String, TensorParams> resolved, MergeLayout layout) {
        return create(config, LayerPositions.of(numLayers), analysis, resolved, layout);
    }

    /**
     * Like {@link #create(MergeConfig, int, PlanAnalysis, Map, MergeLayout)}, over a model whose
     * layers are placed by {@code positions}: several stacks, or multi-token-prediction layers.
     */
    public static TensorMerger create(MergeConfig config, LayerPositions positions, PlanAnalysis analysis,
            Map<String, TensorParams> resolved, MergeLayout layout) {
        if (config.isSliced() != (layout != null)) {
            throw new IllegalArgumentException("a slices: config merges with its layout, a models: config without");
        }
        return new TensorMerger(config, positions, analysis, layout, resolved);
    }

    /**
     * The input tensor each model contributes to output tensor {@code tensorName}, by model
     * reference in merge order: every model's tensor of the same name for a {@code models:} config,
     * the route's for a {@code slices:} one.
     */
    public Map<String, String> inputs(String tensorName) {
        if (routes != null) {
            return route(tensorName).inputs();
        }
        Map<String, String> inputs = new LinkedHashMap<>();
        models.forEach(model -> inputs.put(model, tensorName));
        return inputs;
    }

    private MergeLayout.Route route(String tensorName) {
        MergeLayout.Route route = routes.get(tensorName);
        if (route == null) {
            throw new IllegalArgumentException("no output tensor " + tensorName + " in the slices' layout");
        }
        return route;
    }

    /**
     * The method that merges {@code tensorName}: the config's, or a copy of the one input where its
     * slice has a single source and the method keeps a lone model ({@link MergeMethod#keepsALoneModel}).
     */
    private MergeMethod methodFor(String tensorName) {
        MergeConfig scope = scope(tensorName);
        return scope != config && scope.inputModels().size() == 1 && method.keepsALoneModel(scope) ? LONE : method;
    }

    /** The config whose models and parameters merge {@code tensorName}: its slice's, or the whole one. */
    private MergeConfig scope(String tensorName) {
        return routes == null ? config : slices.get(route(tensorName).slice());
    }

    /** The extra model inputs ({@link MergeConfig#extraModels()}) that merging {@code tensorName} reads. */
    public List<String> extrasFor(String tensorName) {
        TensorParams params = params(tensorName);
        TensorDecision decision = analysis.decision(tensorName);
        List<String> out = new ArrayList<>();
        for (String parameter : config.extraModels().keySet()) {
            if (method.readsExtraInput(parameter, params, decision)) {
                out.add(parameter);
            }
        }
        return out;
    }

    /** The layer index parsed from names like {@code model.layers.12.mlp.up_proj.weight}, or -1. */
    public static int layerIndex(String tensorName) {
        Matcher m = LAYER.matcher(tensorName);
        if (!m.find()) {
            return -1;
        }
        try {
            return Integer.parseInt(m.group(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** {@code tensorName} with its layer index (see {@link #layerIndex}) replaced by {@code layer}. */
    public static String withLayerIndex(String tensorName, int layer) {
        Matcher m = LAYER.matcher(tensorName);
        if (!m.find()) {
            throw new IllegalArgumentException(tensorName + " is not a layer tensor");
        }
        return tensorName.substring(0, m.start(1)) + layer + tensorName.substring(m.end(1));
    }

    /**
     * The stack of layers a layer tensor belongs to, its name up to the layer index (such as
     * {@code model.layers.}), or null for a tensor outside any (see {@link #layerIndex}).
     */
    public static String layerStack(String tensorName) {
        Matcher m = LAYER.matcher(tensorName);
        return m.find() ? tensorName.substring(0, m.start(1)) : null;
    }

    /** True for a non-layer tensor that comes before the layers (embeddings). */
    public static boolean isPreWeight(String tensorName) {
        return PRE_WEIGHT.matcher(tensorName).find();
    }

    /** The gradient position {@code t} in [0, 1] of a tensor: its route's, else its {@link LayerPositions}'. */
    public double gradientPosition(String tensorName) {
        return routes != null ? route(tensorName).t() : positions.position(tensorName);
    }

    /** How this merger places the layers of a {@code models:} config. */
    public LayerPositions positions() {
        return positions;
    }

    /** True when this tensor may be merged in independent element chunks. */
    public boolean chunkable(String tensorName) {
        return methodFor(tensorName).elementwise(params(tensorName), analysis.decision(tensorName));
    }

    /**
     * The method's {@link ElementwiseKernel} for {@code tensorName}, whose inputs are those of
     * {@link #inputs} then the extra inputs of {@link #extrasFor}; null where the tensor is not
     * chunkable or the method has none: then {@link #merge} is the way.
     */
    public ElementwiseKernel kernel(String tensorName) {
        if (!chunkable(tensorName)) {
            return null;
        }
        return methodFor(tensorName).kernel(params(tensorName), analysis.decision(tensorName));
    }

    /**
     * The method's {@link StreamedMerge} for {@code tensorName} of {@code shape}, or null where the
     * tensor is chunkable, reads an extra input, or the method has none: then {@link #merge} on the
     * whole tensor is the way. Its inputs come in the order of {@link #inputs}.
     */
    public StreamedMerge streamed(String tensorName, long[] shape, long seed) {
        if (chunkable(tensorName) || !extrasFor(tensorName).isEmpty()
                || !List.copyOf(inputs(tensorName).keySet()).equals(scope(tensorName).inputModels())) {
            return null;
        }
        return methodFor(tensorName).streamed(params(tensorName), analysis.decision(tensorName), shape.clone(), seed);
    }

    /**
     * Merges elements {@code [elementOffset, elementOffset + len)} of {@code tensorName}.
     *
     * @param shape the full tensor shape
     * @param inputs for each model of {@link MergeConfig#inputModels()}, the same slice of its tensor
     *     (the whole tensor when {@link #chunkable} is false)
     * @param seed the random seed (DARE, DELLA)
     * @return the merged slice, a new array
     */
    public float[] merge(String tensorName, long[] shape, long elementOffset, Map<String, float[]> inputs,
            long seed) {
        return merge(tensorName, shape, elementOffset, inputs, Map.of(), seed);
    }

    /**
     * Like {@link #merge(String, long[], long, Map, long)}, with the same slice of each extra model
     * input of {@link #extrasFor} by parameter name.
     */
    public float[] merge(String tensorName, long[] shape, long elementOffset, Map<String, float[]> inputs,
            Map<String, float[]> extras, long seed) {
        TensorParams params = params(tensorName);
        MergeConfig scope = scope(tensorName);
        List<String> models = scope == config ? this.models : scope.inputModels();
        int baseIndex = scope.baseModel().map(models::indexOf).orElse(-1);
        float[][] xs = new float[models.size()][];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = inputs.get(models.get(i));
            if (xs[i] == null) {
                throw new IllegalArgumentException(tensorName + ": no input for model " + models.get(i));
            }
            if (xs[i].length != xs[0].length) {
                throw new BadInputException(tensorName + ": model " + models.get(i) + " gives "
                        + xs[i].length + " elements, model " + models.get(0) + " gives " + xs[0].length);
            }
        }
        if (inputs.size() != xs.length) {
            throw new IllegalArgumentException(tensorName + ": inputs " + inputs.keySet()
                    + " are not exactly the config's models " + models);
        }
        long numel = Shapes.numElements(shape);
        int len = xs[0].length;
        if (elementOffset < 0 || elementOffset + len > numel) {
            throw new IllegalArgumentException(tensorName + ": slice [" + elementOffset + ", "
                    + (elementOffset + len) + ") outside " + numel + " elements");
        }
        if ((elementOffset != 0 || len != numel) && !chunkable(tensorName)) {
            throw new IllegalArgumentException(tensorName + ": " + method.name()
                    + " needs the whole tensor here, got a chunk");
        }
        for (String parameter : extrasFor(tensorName)) {
            float[] x = extras.get(parameter);
            if (x == null || x.length != len) {
                throw new IllegalArgumentException(tensorName + ": extra input " + parameter + " gives "
                        + (x == null ? "nothing" : x.length + " elements") + ", the models " + len);
            }
        }
        return methodFor(tensorName).merge(new MergeRequest(tensorName, shape.clone(), elementOffset, seed, params, models,
                baseIndex, xs, extras, analysis.decision(tensorName)));
    }

    /** The parameters resolved for {@code tensorName}. */
    public TensorParams params(String tensorName) {
        TensorParams params = planned.get(tensorName);
        return params != null ? params : resolved.computeIfAbsent(tensorName, this::resolve);
    }

    /** The parameters resolved for each of {@code tensorNames}, by name in their order. */
    public Map<String, TensorParams> params(List<String> tensorNames) {
        Map<String, TensorParams> out = new LinkedHashMap<>();
        tensorNames.forEach(name -> out.put(name, params(name)));
        return out;
    }

    private TensorParams resolve(String name) {
        double t = gradientPosition(name);
        MergeConfig config = scope(name);
        Map<String, String> inputs = inputs(name);
        Map<String, Object> global = new HashMap<>();
        for (ParamDef def : method.parameters()) {
            Object v = ParameterSettings.evaluate(name, config.parameters().get(def.name()), t, def.kind());
            global.put(def.name(), orDefault(v, def, name, "parameters." + def.name()));
        }
        List<Params> perModel = new ArrayList<>();
        List<String> models = config.inputModels();
        for (String model : models) {
            boolean exempt = method.baseExemptFromRequired() && config.baseModel().map(model::equals).orElse(false);
            Map<String, Object> own = config.modelParameters(model);
            String input = inputs.get(model);
            Map<String, Object> values = new HashMap<>();
            for (ParamDef def : method.tensorParameters()) {
                Object v = ParameterSettings.evaluate(input, own.get(def.name()), t, def.kind());
                if (v == null) {
                    v = ParameterSettings.evaluate(input, config.parameters().get(def.name()), t, def.kind());
                }
                if (v == null && def.required() && !exempt) {
                    throw config.error("parameter " + def.name(), "no value for model '" + model
                            + "' on tensor " + name + " (no filter matches and no default)");
                }
                values.put(def.name(), v == null ? def.defaultValue() : v);
            }
            perModel.add(distinct.computeIfAbsent(values, Params::new));
        }
        return new TensorParams(name, distinct.computeIfAbsent(global, Params::new), perModel,
                config.baseModel().map(models::indexOf).orElse(-1));
    }

    private Object orDefault(Object v, ParamDef def, String tensor, String key) {
        if (v instanceof Number n && def.kind() == ParamDef.Kind.BOOLEAN) {
            return truth(n.doubleValue(), tensor, key);
        }
        if (v != null) {
            return v;
        }
        if (def.required()) {
            throw config.error(key, "no value on tensor " + tensor + " (no filter matches)");
        }
        return def.defaultValue();
    }

    /**
     * A true/false parameter given as a number, or blended by a gradient ({@code [false, true]}):
     * 0 and 1 are false and true; mergekit's merge tasks take nothing else for one (pydantic refuses
     * 0.33 for a {@code bool} field), so nor does this.
     */
    private Boolean truth(double v, String tensor, String key) {
        if (v == 0 || v == 1) {
            return v == 1;
        }
        throw config.error(key, "is " + v + " on tensor " + tensor + " (a list of true/false values blends between"
                + " layers, as mergekit's gradients do), neither true nor false, which mergekit refuses too;"
                + " give each layer's value with filters, or one value");
    }
}
