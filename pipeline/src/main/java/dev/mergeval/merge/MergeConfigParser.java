package dev.mergeval.merge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.JacksonYAMLParseException;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.YamlReader;
import dev.mergeval.common.Mappers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a mergekit YAML config into a {@link MergeConfig}. The YAML is bound to the raw records
 * below, whose values stay YAML nodes so that each is checked here with a message of its own.
 * Missing required parameters and values of the wrong type are a {@link BadInputException} whose
 * one-line message names the source and the key, checked in document order: the top-level keys,
 * the method, the scalar settings, each model (or each slice and its sources, or each module and
 * its models or slices) in turn, the global parameters, the required parameters, and last the
 * method's own rules ({@link MergeMethod#validate}), which a {@code slices:} config meets slice by
 * slice ({@link MergeConfig#forSlice}) and a {@code modules:} config module by module. What mergekit
 * ignores, Mergeval ignores too, with a warning naming the key: keys the records do not hold, and
 * parameters the method does not read where they are written (mergekit's own test configs give
 * every model a {@code weight}, whichever the method), recorded in {@link MergeConfig#ignored}.
 */
final class MergeConfigParser {
    private static final Logger LOG = LoggerFactory.getLogger(MergeConfigParser.class);
    private static final Set<String> DTYPES = Set.of("float32", "float16", "bfloat16", "float64");
    /** A number written as text (YAML 1.1 reads {@code 1e-3}, without a dot, as a string). */
    private static final Pattern DECIMAL = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");
    /** What Python's {@code float()} also reads as text: infinity and not-a-number. */
    private static final Pattern NON_FINITE = Pattern.compile("(?i)[-+]?(inf|infinity|nan)");

    /** Reads configs (duplicate keys are an error) and writes {@link MergeConfig#normalizedYaml()}. */
    static final ObjectMapper YAML = Mappers.YAML;

    /** The top level of a config. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawConfig(JsonNode mergeMethod, JsonNode baseModel, JsonNode models, JsonNode parameters,
            JsonNode dtype, JsonNode outDtype, JsonNode tokenizerSource, JsonNode tokenizer, JsonNode chatTemplate,
            JsonNode slices, JsonNode modules) {
    }

    /** One entry of {@code modules}. */
    record RawModule(JsonNode slices, JsonNode models, JsonNode parameters) {
    }

    /** The {@code tokenizer:} block. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawTokenizer(JsonNode source, JsonNode tokens, JsonNode padToMultipleOf) {
    }

    /** One entry of the {@code tokenizer:} block's {@code tokens}. */
    record RawTokenEmbedding(JsonNode source, JsonNode force) {
    }

    /** A {@code {kind: ...}} source of a token's embedding. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawEmbeddingSource(JsonNode kind, JsonNode model, JsonNode token, JsonNode tokenId) {
    }

    /** One entry of {@code slices}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawSlice(JsonNode sources, JsonNode parameters, JsonNode baseModel, JsonNode residualWeight) {
    }

    /** One entry of a slice's {@code sources}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawSource(JsonNode model, JsonNode layerRange, JsonNode parameters) {
    }

    /** One entry of {@code models}. */
    record RawModel(JsonNode model, JsonNode parameters) {
    }

    /** A model reference written as a mapping (mergekit's {@code ModelReference}). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    record RawModelReference(JsonNode model, JsonNode lora, JsonNode overrideArchitecture) {
    }

    /** A model or adapter path written as a mapping (mergekit's {@code ModelPath}). */
    record RawModelPath(JsonNode path, JsonNode revision) {
    }

    /** One {@code {filter, value}} entry of a parameter setting. */
    record RawCondition(JsonNode filter, JsonNode value) {
    }

    private final String source;
    /** What the config says that nothing reads, as {@code key: why}, in document order. */
    private final List<String> ignored = new ArrayList<>();

    MergeConfigParser(String source) {
        this.source = source;
    }

    MergeConfig parse(String yaml, String location) {
        JsonNode root;
        try {
            root = YamlReader.readTree(YAML, yaml, source);
        } catch (JsonProcessingException e) {
            // SnakeYAML's own errors name their lines in the message; Jackson's (a duplicate key) only in the location.
            String line = e instanceof JacksonYAMLParseException || e.getLocation() == null
                    || e.getLocation().getLineNr() < 1 ? "" : ":" + e.getLocation().getLineNr();
            throw new BadInputException(source + line + ": invalid YAML: " + Mappers.oneLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source, e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(source + ": the config must be a YAML mapping");
        }
        RawConfig raw = bind(root, RawConfig.class, "");
        String methodName = requiredString(raw.mergeMethod(), "merge_method");
        MergeMethod method = MergeMethods.find(methodName).orElseThrow(() -> bad("merge_method",
                "unknown method '" + methodName + "' (known: " + String.join(", ", MergeMethods.names()) + ")"));
        String baseModel = optionalModel(raw.baseModel(), "base_model");
        String dtype = optionalDtype(raw.dtype(), "dtype");
        String outDtype = optionalDtype(raw.outDtype(), "out_dtype");
        String tokenizerSource = tokenizerSource(raw.tokenizerSource(), "tokenizer_source");
        TokenizerSettings tokenizer = null;
        if (!isAbsent(raw.tokenizer())) {
            if (tokenizerSource != null) {
                throw bad("tokenizer", "give either 'tokenizer' or 'tokenizer_source', not both");
            }
            if (!raw.tokenizer().isObject()) {
                throw bad("tokenizer", "must be a mapping with 'source', 'tokens' and 'pad_to_multiple_of'");
            }
            RawTokenizer block = bind(raw.tokenizer(), RawTokenizer.class, "tokenizer.");
            tokenizerSource = isAbsent(block.source()) ? "union" : tokenizerSource(block.source(), "tokenizer.source");
            tokenizer = new TokenizerSettings(tokens(block.tokens()), padToMultipleOf(block.padToMultipleOf()));
        }
        String chatTemplate = optionalString(raw.chatTemplate(), "chat_template");
        if (chatTemplate != null && ChatTemplates.problem(chatTemplate) != null) {
            throw bad("chat_template", ChatTemplates.problem(chatTemplate));
        }

        JsonNode modelsNode = raw.models();
        int forms = (isAbsent(modelsNode) ? 0 : 1) + (isAbsent(raw.slices()) ? 0 : 1)
                + (isAbsent(raw.modules()) ? 0 : 1);
        if (forms > 1) {
            throw bad(isAbsent(raw.modules()) ? "slices" : "modules",
                    "give exactly one of 'models', 'slices' and 'modules'");
        }
        MergeConfig top = new MergeConfig(source, Optional.ofNullable(location), method.name(),
                Optional.ofNullable(baseModel), List.of(), Map.of(), Optional.ofNullable(dtype),
                Optional.ofNullable(outDtype), Optional.ofNullable(tokenizerSource), Optional.ofNullable(tokenizer),
                Optional.ofNullable(chatTemplate), List.of(), List.of(), List.of());
        if (!isAbsent(raw.slices())) {
            return sliced(raw, method, top);
        }
        if (!isAbsent(raw.modules())) {
            return modular(raw, method, top);
        }
        List<ModelEntry> models = models(modelsNode, "models", method);
        Map<String, Object> global = parameterBlock(raw.parameters(), "parameters", method.parameters(),
                method.tensorParameters(), method.name());

        MergeConfig config = new MergeConfig(source, Optional.ofNullable(location), method.name(),
                Optional.ofNullable(baseModel), models, global, Optional.ofNullable(dtype),
                Optional.ofNullable(outDtype), Optional.ofNullable(tokenizerSource), Optional.ofNullable(tokenizer),
                Optional.ofNullable(chatTemplate), List.of(), List.of(), ignored);
        checkTokenizerModels(config);
        checkRequired(config, method);
        method.validate(config);
        return config;
    }

    /** A {@code models:} list (at {@code key}): each model once, with its parameters. */
    private List<ModelEntry> models(JsonNode modelsNode, String key, MergeMethod method) {
        if (isAbsent(modelsNode)) {
            throw bad(key, "required: the list of models to merge");
        }
        if (!modelsNode.isArray() || modelsNode.isEmpty()) {
            throw bad(key, "must be a non-empty list");
        }
        List<ModelEntry> models = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < modelsNode.size(); i++) {
            String where = key + "[" + i + "]";
            JsonNode node = modelsNode.get(i);
            if (!node.isObject()) {
                throw bad(where, "must be a mapping with 'model' and optional 'parameters'");
            }
            RawModel entry = bind(node, RawModel.class, where + ".");
            String model = requiredModel(entry.model(), where + ".model");
            if (!seen.add(model)) {
                throw bad(where + ".model", "'" + model + "' is listed twice");
            }
            models.add(new ModelEntry(model, parameterBlock(entry.parameters(), where + ".parameters",
                    method.tensorParameters(), List.of(), method.name())));
        }
        return models;
    }

    /**
     * A {@code modules:} config: {@code top} with the modules, in the order written, and the global
     * parameters. Each module gives {@code models} or {@code slices} (over the module's own layers),
     * not both, as mergekit's {@code OutputModuleDefinition} requires, and meets the method's rules
     * as the {@code models:} config ({@link MergeConfig#forModule}) or the slices it merges as.
     * Whether the modules are those of the models' architecture is checked where the models are
     * opened ({@link MergekitModules#resolve}).
     */
    private MergeConfig modular(RawConfig raw, MergeMethod method, MergeConfig top) {
        requireLayerwise(method, "modules");
        JsonNode node = raw.modules();
        if (!node.isObject() || node.isEmpty()) {
            throw bad("modules", "must be a non-empty mapping of module names (text_decoder, vision_tower, ...)"
                    + " to each module's models or slices");
        }
        List<MergeModule> modules = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String where = "modules." + field.getKey();
            if (!field.getValue().isObject()) {
                throw bad(where, "must be a mapping with 'models' or 'slices', and optional 'parameters'");
            }
            RawModule entry = bind(field.getValue(), RawModule.class, where + ".");
            if (isAbsent(entry.models()) == isAbsent(entry.slices())) {
                throw bad(where, "give either 'models' or 'slices' (mergekit: \"Must specify either output slices"
                        + " or models to merge\")");
            }
            List<ModelEntry> models = isAbsent(entry.models()) ? List.of()
                    : models(entry.models(), where + ".models", method);
            List<MergeSlice> slices = isAbsent(entry.slices()) ? List.of()
                    : slices(entry.slices(), where + ".slices", field.getKey(), method);
            modules.add(new MergeModule(field.getKey(), models, slices, parameterBlock(entry.parameters(),
                    where + ".parameters", method.parameters(), method.tensorParameters(), method.name())));
        }
        Map<String, Object> global = parameterBlock(raw.parameters(), "parameters", method.parameters(),
                method.tensorParameters(), method.name());
        MergeConfig config = new MergeConfig(source, top.location(), top.mergeMethod(), top.baseModel(), List.of(),
                global, top.dtype(), top.outDtype(), top.tokenizerSource(), top.tokenizer(), top.chatTemplate(),
                List.of(), modules, ignored);
        checkTokenizerModels(config);
        for (MergeModule module : modules) {
            String where = "modules." + module.name();
            if (module.slices().isEmpty()) {
                try {
                    MergeConfig models = config.forModule(module);
                    checkRequired(models, method);
                    method.validate(models);
                } catch (BadInputException e) {
                    throw within(e, where + ".");
                }
                continue;
            }
            MergeConfig sliced = config.withSlices(MergekitModules.folded(module));
            for (int i = 0; i < module.slices().size(); i++) {
                try {
                    MergeConfig slice = sliced.forSlice(i);
                    checkRequired(slice, method);
                    validateSlice(slice, method);
                } catch (BadInputException e) {
                    throw inSlice(e, where + ".slices[" + i + "]", sliced.sliceBase(i));
                }
            }
        }
        return config;
    }

    /** {@code e} (keyed at the top level of a config) keyed under {@code prefix}. */
    private BadInputException within(BadInputException e, String prefix) {
        String head = source + ": ";
        String message = e.getMessage();
        return message.startsWith(head) ? new BadInputException(head + prefix + message.substring(head.length())) : e;
    }

    /**
     * A {@code slices:} config: {@code top} (its scalar settings) with the slices and the global
     * parameters, each slice checked against the method's rules as the {@code models:} config it
     * merges as.
     */
    private MergeConfig sliced(RawConfig raw, MergeMethod method, MergeConfig top) {
        requireLayerwise(method, "slices");
        List<MergeSlice> slices = slices(raw.slices(), "slices", null, method);
        Map<String, Object> global = parameterBlock(raw.parameters(), "parameters", method.parameters(),
                method.tensorParameters(), method.name());
        MergeConfig config = new MergeConfig(source, top.location(), top.mergeMethod(), top.baseModel(), List.of(),
                global, top.dtype(), top.outDtype(), top.tokenizerSource(), top.tokenizer(), top.chatTemplate(),
                slices, List.of(), ignored);
        checkTokenizerModels(config);
        for (int i = 0; i < slices.size(); i++) {
            MergeConfig slice = config.forSlice(i);
            try {
                checkRequired(slice, method);
                validateSlice(slice, method);
            } catch (BadInputException e) {
                throw inSlice(e, "slices[" + i + "]", config.sliceBase(i));
            }
        }
        return config;
    }

    /** A slice's rules: the method's, except for a single source that the method keeps as it is. */
    private static void validateSlice(MergeConfig slice, MergeMethod method) {
        if (slice.inputModels().size() != 1 || !method.keepsALoneModel(slice)) {
            method.validate(slice);
        }
    }

    /** A method that reads whole models (a {@code wholeMerge} parameter) cannot merge parts of them. */
    private void requireLayerwise(MergeMethod method, String key) {
        for (ParamDef def : method.parameters()) {
            if (def.kind().wholeMerge()) {
                throw bad(key, method.name() + " reads whole models (parameter '" + def.name()
                        + "'); it cannot merge " + key + ", list whole models under 'models'");
            }
        }
    }

    /**
     * A {@code slices:} list (at {@code key}, of {@code module} or null): each slice's sources
     * (model, {@code layer_range: [start, end)} with {@code 0 <= start < end}, each model once, all of
     * the same length) and parameters. Whether a range lies inside its model is checked where the
     * models are opened ({@link MergeLayout}).
     */
    private List<MergeSlice> slices(JsonNode node, String key, String module, MergeMethod method) {
        if (!node.isArray() || node.isEmpty()) {
            throw bad(key, "must be a non-empty list of slices, each with 'sources'");
        }
        List<MergeSlice> slices = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String where = key + "[" + i + "]";
            if (!node.get(i).isObject()) {
                throw bad(where, "must be a mapping with 'sources' and optional 'parameters'");
            }
            RawSlice raw = bind(node.get(i), RawSlice.class, where + ".");
            String base = optionalModel(raw.baseModel(), where + ".base_model");
            if (!isAbsent(raw.residualWeight())) {
                ignore(where + ".residual_weight", "mergekit's planner does not read it");
            }
            JsonNode sourcesNode = raw.sources();
            if (isAbsent(sourcesNode)) {
                throw bad(where + ".sources", "required: the models and layer ranges of this slice");
            }
            if (!sourcesNode.isArray() || sourcesNode.isEmpty()) {
                throw bad(where + ".sources", "must be a non-empty list");
            }
            List<SliceSource> sources = new ArrayList<>();
            for (int j = 0; j < sourcesNode.size(); j++) {
                String at = where + ".sources[" + j + "]";
                JsonNode sourceNode = sourcesNode.get(j);
                if (!sourceNode.isObject()) {
                    throw bad(at, "must be a mapping with 'model', 'layer_range' and optional 'parameters'");
                }
                RawSource entry = bind(sourceNode, RawSource.class, at + ".");
                String model = requiredModel(entry.model(), at + ".model");
                if (sources.stream().anyMatch(s -> s.model().equals(model))) {
                    throw bad(at + ".model", "'" + model + "' is listed twice in this slice (a slice merges each"
                            + " model once; stack other layers of it in another slice)");
                }
                int[] range = layerRange(entry.layerRange(), at + ".layer_range");
                if (j > 0 && range[1] - range[0] != sources.get(0).layers()) {
                    throw bad(at + ".layer_range", "covers " + (range[1] - range[0]) + " layers, " + where
                            + ".sources[0] covers " + sources.get(0).layers()
                            + "; every source of a slice must cover the same number of layers");
                }
                sources.add(new SliceSource(model, range[0], range[1], parameterBlock(entry.parameters(),
                        at + ".parameters", method.tensorParameters(), List.of(), method.name())));
            }
            slices.add(new MergeSlice(sources, parameterBlock(raw.parameters(), where + ".parameters",
                    method.parameters(), method.tensorParameters(), method.name()), base, module));
        }
        return slices;
    }

    /** {@code [start, end)}: two integers, {@code 0 <= start < end}. */
    private int[] layerRange(JsonNode node, String key) {
        if (isAbsent(node)) {
            throw bad(key, "required: [start, end), the layers this source contributes");
        }
        Integer first = node.isArray() && node.size() == 2 ? laxInt(node.get(0)) : null;
        Integer second = node.isArray() && node.size() == 2 ? laxInt(node.get(1)) : null;
        if (first == null || second == null) {
            throw bad(key, "must be a list of two layer indices [start, end)");
        }
        int start = first;
        int end = second;
        if (start < 0) {
            throw bad(key, "start " + start + " is negative");
        }
        if (start >= end) {
            throw bad(key, "[" + start + ", " + end + ") is empty: the range is [start, end), start must be below end");
        }
        return new int[] {start, end};
    }

    /**
     * An integer as mergekit's pydantic {@code Tuple[int, int]} reads one: a whole number, written
     * as such, as a float without a fraction ({@code 4.0}) or as a string of digits ({@code '4'});
     * null for anything else.
     */
    private static Integer laxInt(JsonNode n) {
        if (n.isIntegralNumber()) {
            return n.canConvertToInt() ? n.intValue() : null;
        }
        if (n.isFloatingPointNumber()) {
            double d = n.doubleValue();
            return d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE ? (int) d : null;
        }
        if (n.isTextual() && n.textValue().strip().matches("[+-]?\\d{1,9}")) {
            return Integer.parseInt(n.textValue().strip());
        }
        return null;
    }

    /**
     * An error of the rules of the slice at {@code where} ({@link MergeConfig#forSlice}), keyed in the
     * slice: its {@code models} are the slice's {@code sources}, and a {@code base_model} it lacks
     * ({@code base}, the slice's) is one that is not among them.
     */
    private BadInputException inSlice(BadInputException e, String where, Optional<String> base) {
        String prefix = source + ": ";
        String message = e.getMessage();
        if (!message.startsWith(prefix)) {
            return e;
        }
        String rest = message.substring(prefix.length());
        if (rest.startsWith("models")) {
            return new BadInputException(prefix + where + ".sources" + rest.substring("models".length()));
        }
        if (rest.startsWith("base_model: ") && base.isPresent()) {
            return new BadInputException(prefix + where + ".sources: " + rest.substring("base_model: ".length())
                    + ", and base_model '" + base.get() + "' is not one of this slice's sources");
        }
        return new BadInputException(prefix + where + ": " + rest);
    }

    private void checkRequired(MergeConfig config, MergeMethod method) {
        for (ParamDef def : method.parameters()) {
            if (def.required() && !config.parameters().containsKey(def.name())) {
                throw bad("parameters." + def.name(), "required by " + method.name());
            }
        }
        for (int i = 0; i < config.models().size(); i++) {
            ModelEntry entry = config.models().get(i);
            boolean exempt = method.baseExemptFromRequired() && config.baseModel().equals(Optional.of(entry.model()));
            for (ParamDef def : method.tensorParameters()) {
                if (def.required() && !exempt && !entry.parameters().containsKey(def.name())
                        && !config.parameters().containsKey(def.name())) {
                    throw bad("models[" + i + "].parameters." + def.name(),
                            "required by " + method.name() + " for model '" + entry.model() + "'");
                }
            }
        }
    }

    /**
     * {@code node} (a mapping) bound to {@code type}. A key the type does not hold is ignored at
     * {@code prefix + key}, with the sorted keys the type holds.
     */
    private <T> T bind(JsonNode node, Class<T> type, String prefix) {
        JsonNode bound = node;
        while (true) {
            try {
                return YAML.readerFor(type).with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).readValue(bound);
            } catch (UnrecognizedPropertyException e) {
                String key = e.getPropertyName();
                List<String> known = e.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
                ignore(prefix + key, "unknown key (known: " + String.join(", ", known) + ")");
                ObjectNode rest = bound.deepCopy();
                rest.remove(key);
                bound = rest;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot bind " + type.getSimpleName(), e);
            }
        }
    }

    /** Records {@code key} as ignored, and warns: mergekit ignores it without a word. */
    private void ignore(String key, String why) {
        ignore(key, why, "as mergekit ignores it");
    }

    /** Records {@code key} as ignored, and warns with {@code why} and how that compares with mergekit. */
    private void ignore(String key, String why, String mergekit) {
        ignored.add(key + ": " + why);
        LOG.warn("{}: {}: {}; ignored, {}", source, key, why, mergekit);
    }

    // ---- model references ----

    /**
     * A model, as mergekit's {@code ModelReference} reads one, in the one string Mergeval keys
     * models by ({@code PATH}, or {@code PATH+ADAPTER} for a PEFT adapter applied to it): a string,
     * or a mapping {@code {model, lora, override_architecture}} whose {@code model} and {@code lora}
     * are each a path or {@code {path, revision}}, as mergekit writes a path with a space or a quote
     * into the {@code mergekit_config.yml} of its outputs.
     */
    private String requiredModel(JsonNode v, String key) {
        if (isAbsent(v)) {
            throw bad(key, "required");
        }
        if (v.isTextual()) {
            return nonEmptyString(v, key);
        }
        if (!v.isObject()) {
            throw bad(key, "must be a model: a path, PATH+ADAPTER, or a mapping {model, lora}");
        }
        RawModelReference ref = bind(v, RawModelReference.class, key + ".");
        String model = modelPath(ref.model(), key + ".model");
        if (!isAbsent(ref.overrideArchitecture())) {
            ignore(key + ".override_architecture", "Mergeval tells each tensor's role by its name, not by an"
                    + " architecture's list", "where mergekit plans by that architecture's tensor list");
        }
        if (isAbsent(ref.lora())) {
            return model;
        }
        return model + "+" + modelPath(ref.lora(), key + ".lora");
    }

    private String optionalModel(JsonNode v, String key) {
        return isAbsent(v) ? null : requiredModel(v, key);
    }

    /** A path of {@link #requiredModel}'s mapping form: a string or {@code {path, revision}}. */
    private String modelPath(JsonNode v, String key) {
        String path;
        if (isAbsent(v) || v.isTextual()) {
            path = requiredString(v, key);
        } else if (v.isObject()) {
            RawModelPath raw = bind(v, RawModelPath.class, key + ".");
            path = requiredString(raw.path(), key + ".path");
            if (!isAbsent(raw.revision())) {
                throw bad(key + ".revision", "a hub revision cannot be fetched here (nothing is downloaded);"
                        + " give the path of a local or Hadoop copy of it");
            }
        } else {
            throw bad(key, "must be a path or a mapping {path, revision}");
        }
        if (path.contains("+")) {
            throw bad(key, "'" + path + "' holds a '+', which here separates a model from its adapter;"
                    + " give a path without one");
        }
        return path;
    }

    /** {@code tokenizer_source}: {@code base}, {@code union}, or a model ({@link #requiredModel}). */
    private String tokenizerSource(JsonNode v, String key) {
        if (isAbsent(v)) {
            return null;
        }
        if (!v.isTextual() && !v.isObject()) {
            throw bad(key, "must be base, union or a model (a path, PATH+ADAPTER, or a mapping {model, lora})");
        }
        return requiredModel(v, key);
    }

    // ---- parameter settings ----

    private Map<String, Object> parameterBlock(JsonNode node, String where, List<ParamDef> allowed,
            List<ParamDef> alsoAllowed, String methodName) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (isAbsent(node)) {
            return out;
        }
        if (!node.isObject()) {
            throw bad(where, "must be a mapping of parameter names to values");
        }
        Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String key = where + "." + field.getKey();
            ParamDef def = findDef(field.getKey(), allowed, alsoAllowed);
            if (def == null) {
                List<String> known = new ArrayList<>();
                allowed.forEach(d -> known.add(d.name()));
                alsoAllowed.forEach(d -> known.add(d.name()));
                ignore(key, "not a parameter of " + methodName + " here (it reads: "
                        + (known.isEmpty() ? "none" : String.join(", ", known)) + ")");
                continue;
            }
            if (field.getValue().isNull()) {
                continue;
            }
            out.put(field.getKey(), def.kind().wholeMerge() ? wholeMergeSetting(field.getValue(), def, key)
                    : setting(field.getValue(), def, key));
        }
        return out;
    }

    private static ParamDef findDef(String name, List<ParamDef> a, List<ParamDef> b) {
        for (List<ParamDef> defs : List.of(a, b)) {
            for (ParamDef d : defs) {
                if (d.name().equals(name)) {
                    return d;
                }
            }
        }
        return null;
    }

    /** A path, or a list of names: one value for the whole merge, no gradient or filter. */
    private Object wholeMergeSetting(JsonNode node, ParamDef def, String key) {
        if (def.kind() != ParamDef.Kind.NAMES) {
            if (!node.isTextual() || node.asText().isBlank()) {
                throw bad(key, "must be a path (a non-empty string)");
            }
            return node.asText();
        }
        List<String> names = new ArrayList<>();
        if (node.isTextual()) {
            for (String part : node.asText().split(",")) {
                names.add(part.trim());
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                if (!node.get(i).isTextual()) {
                    throw bad(key + "[" + i + "]", "must be a name (a string)");
                }
                names.add(node.get(i).asText().trim());
            }
        } else {
            throw bad(key, "must be a list of names or one comma-separated string");
        }
        if (names.isEmpty() || names.stream().anyMatch(String::isEmpty)) {
            throw bad(key, "must hold one or more non-empty names");
        }
        return List.copyOf(names);
    }

    /** Converts one setting (scalar, gradient list or filter list) to plain Java values, checking kinds. */
    private Object setting(JsonNode node, ParamDef def, String key) {
        if (node.isArray()) {
            if (node.isEmpty()) {
                throw bad(key, "an empty list is not a value");
            }
            boolean conditions = node.get(0).isObject();
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < node.size(); i++) {
                JsonNode e = node.get(i);
                String ek = key + "[" + i + "]";
                if (e.isObject() != conditions) {
                    throw bad(ek, "a list must hold either {filter, value} entries or plain values, not both");
                }
                list.add(conditions ? condition(e, def, ek) : scalar(e, def, ek));
            }
            return List.copyOf(list);
        }
        if (node.isObject()) {
            // mergekit's evaluate_setting takes scalars and lists only ("Unexpected setting value")
            throw bad(key, "a single {filter, value} mapping is not a setting mergekit reads; write it as a"
                    + " one-entry list, [{filter: ..., value: ...}]");
        }
        return scalar(node, def, key);
    }

    private Map<String, Object> condition(JsonNode node, ParamDef def, String key) {
        RawCondition raw = bind(node, RawCondition.class, key + ".");
        Map<String, Object> cond = new LinkedHashMap<>();
        if (!isAbsent(raw.filter())) {
            if (!raw.filter().isTextual()) {
                throw bad(key + ".filter", "must be a string");
            }
            cond.put("filter", raw.filter().asText());
        }
        JsonNode value = raw.value();
        if (isAbsent(value)) {
            throw bad(key + ".value", "required in a {filter, value} entry");
        }
        if (value.isArray()) {
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < value.size(); i++) {
                if (value.get(i).isContainerNode()) {
                    throw bad(key + ".value[" + i + "]", "must be a plain value");
                }
                list.add(scalar(value.get(i), def, key + ".value[" + i + "]"));
            }
            if (list.isEmpty()) {
                throw bad(key + ".value", "an empty list is not a value");
            }
            cond.put("value", List.copyOf(list));
        } else if (value.isObject()) {
            throw bad(key + ".value", "must be a value or a list of values, not a mapping");
        } else {
            cond.put("value", scalar(value, def, key + ".value"));
        }
        return Collections.unmodifiableMap(cond);
    }

    private Object scalar(JsonNode node, ParamDef def, String key) {
        switch (def.kind()) {
            case NUMBER:
                if (node.isNumber()) {
                    return finite(numberOf(node), node, key);
                }
                if (node.isTextual()) {
                    // YAML 1.1 reads "1e-3" (no dot) as a string; accept numeric text, as mergekit's
                    // pydantic does (not Java's own forms: "1f", hexadecimal).
                    String text = node.asText().trim();
                    if (DECIMAL.matcher(text).matches()) {
                        return finite(Double.parseDouble(text), node, key);
                    }
                    if (NON_FINITE.matcher(text).matches()) {
                        return finite(Double.NaN, node, key);
                    }
                    throw bad(key, "must be a number (got '" + node.asText() + "')");
                }
                throw bad(key, "must be a number (got " + node.getNodeType().toString().toLowerCase() + ")");
            case BOOLEAN:
                if (node.isBoolean()) {
                    return node.booleanValue();
                }
                if (node.isNumber()) {
                    return numberOf(node);
                }
                throw bad(key, "must be true or false");
            case STRING:
                if (node.isTextual()) {
                    return node.asText();
                }
                throw bad(key, "must be a string");
            case MODEL, FILE, NAMES:
                throw new IllegalStateException(def.kind() + " settings are read by wholeMergeSetting");
            default:
                throw new IllegalStateException("unknown kind " + def.kind());
        }
    }

    /** A Long where the integer fits one (a larger one would wrap), else a Double. */
    private static Object numberOf(JsonNode node) {
        return node.isIntegralNumber() && node.canConvertToLong() ? (Object) node.longValue() : (Object) node.doubleValue();
    }

    /**
     * {@code value}, unless it is infinite or not a number (a YAML {@code .nan}, {@code 1e309}): mergekit
     * would merge with it and write NaN or infinite weights.
     */
    private Object finite(Object value, JsonNode node, String key) {
        if (value instanceof Double d && !Double.isFinite(d)) {
            throw bad(key, "must be a finite number (got " + (node.isTextual() ? "'" + node.asText() + "'" : d) + ")");
        }
        return value;
    }

    // ---- the tokenizer block ----

    private Map<String, TokenizerSettings.TokenEmbedding> tokens(JsonNode node) {
        Map<String, TokenizerSettings.TokenEmbedding> tokens = new LinkedHashMap<>();
        if (isAbsent(node)) {
            return tokens;
        }
        if (!node.isObject()) {
            throw bad("tokenizer.tokens", "must be a mapping of tokens to {source, force}");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = "tokenizer.tokens." + e.getKey();
            if (!e.getValue().isObject()) {
                throw bad(where, "must be a mapping with 'source' and optional 'force'");
            }
            RawTokenEmbedding raw = bind(e.getValue(), RawTokenEmbedding.class, where + ".");
            boolean force = false;
            if (!isAbsent(raw.force())) {
                if (!raw.force().isBoolean()) {
                    throw bad(where + ".force", "must be true or false");
                }
                force = raw.force().asBoolean();
            }
            tokens.put(e.getKey(), embedding(raw.source(), where + ".source", force));
        }
        return tokens;
    }

    /** A token's source: a model reference, {@code {kind: zero}} or {@code {kind: model_token, ...}}. */
    private TokenizerSettings.TokenEmbedding embedding(JsonNode node, String where, boolean force) {
        if (isAbsent(node)) {
            throw bad(where, "required: a model, {kind: zero} or {kind: model_token, model, token | token_id}");
        }
        if (node.isTextual() || node.isObject() && !node.has("kind")) {
            return new TokenizerSettings.TokenEmbedding(TokenizerSettings.Kind.MODEL, requiredModel(node, where),
                    null, null, force);
        }
        if (!node.isObject()) {
            throw bad(where, "must be a model, {kind: zero} or {kind: model_token, model, token | token_id}");
        }
        RawEmbeddingSource raw = bind(node, RawEmbeddingSource.class, where + ".");
        String kind = requiredString(raw.kind(), where + ".kind");
        switch (kind) {
            case "zero" -> {
                if (!isAbsent(raw.model()) || !isAbsent(raw.token()) || !isAbsent(raw.tokenId())) {
                    throw bad(where, "kind 'zero' takes no model, token or token_id");
                }
                return new TokenizerSettings.TokenEmbedding(TokenizerSettings.Kind.ZERO, null, null, null, force);
            }
            case "model_token" -> {
                String model = requiredModel(raw.model(), where + ".model");
                if (isAbsent(raw.token()) == isAbsent(raw.tokenId())) {
                    throw bad(where, "give one of token or token_id");
                }
                Integer id = null;
                if (!isAbsent(raw.tokenId())) {
                    if (!raw.tokenId().canConvertToInt() || !raw.tokenId().isIntegralNumber()
                            || raw.tokenId().asInt() < 0) {
                        throw bad(where + ".token_id", "must be a non-negative integer");
                    }
                    id = raw.tokenId().asInt();
                }
                String token = isAbsent(raw.token()) ? null : nonEmptyString(raw.token(), where + ".token");
                return new TokenizerSettings.TokenEmbedding(TokenizerSettings.Kind.MODEL_TOKEN, model, token, id,
                        force);
            }
            default -> throw bad(where + ".kind", "unknown kind '" + kind + "' (known: model_token, zero)");
        }
    }

    private int padToMultipleOf(JsonNode node) {
        if (isAbsent(node)) {
            return 0;
        }
        // 0 is no padding, as mergekit's truth test reads it
        if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() < 0) {
            throw bad("tokenizer.pad_to_multiple_of", "must be a positive integer, or 0 for none");
        }
        return node.asInt();
    }

    /** A token's source model must be one of the merge's models, as mergekit asserts. */
    private void checkTokenizerModels(MergeConfig config) {
        config.tokenizer().ifPresent(t -> t.tokens().forEach((token, e) -> {
            if (e.model() != null && !config.inputModels().contains(e.model())) {
                throw bad("tokenizer.tokens." + token + ".source", "model '" + e.model()
                        + "' is not one of the merge's models " + config.inputModels());
            }
        }));
    }

    // ---- scalar settings ----

    private String requiredString(JsonNode v, String key) {
        if (isAbsent(v)) {
            throw bad(key, "required");
        }
        return nonEmptyString(v, key);
    }

    private String optionalString(JsonNode v, String key) {
        return isAbsent(v) ? null : nonEmptyString(v, key);
    }

    private String nonEmptyString(JsonNode v, String key) {
        if (!v.isTextual() || v.asText().isBlank()) {
            throw bad(key, "must be a non-empty string");
        }
        return v.asText();
    }

    /** The dtype without a {@code torch.} prefix, or null when absent. */
    private String optionalDtype(JsonNode node, String key) {
        String v = optionalString(node, key);
        if (v == null) {
            return null;
        }
        String name = v.startsWith("torch.") ? v.substring("torch.".length()) : v;
        if (!DTYPES.contains(name)) {
            throw bad(key, "unsupported dtype '" + v + "' (supported: " + String.join(", ", sorted(DTYPES)) + ")");
        }
        return name;
    }

    /** Missing, or written as null ({@code key:} or {@code key: ~}). */
    private static boolean isAbsent(JsonNode node) {
        return node == null || node.isNull();
    }

    private static List<String> sorted(Set<String> s) {
        List<String> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }

    private BadInputException bad(String key, String problem) {
        return bad(source, key, problem);
    }

    static BadInputException bad(String source, String key, String problem) {
        return new BadInputException(source + ": " + key + ": " + problem);
    }
}
