package dev.mergeval.merge;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A mergekit merge configuration restricted to what Mergeval supports: {@code models},
 * {@code merge_method}, {@code base_model}, {@code parameters}, {@code dtype}, {@code out_dtype} and
 * {@code tokenizer_source} (absent or {@code base}). Everything else (slices, modules, tokenizer
 * blocks, chat templates, unknown keys, parameters the method does not take, missing required
 * parameters, values of the wrong type) is rejected with a {@link BadInputException} whose one-line
 * message names the source and the key.
 *
 * <p>Path parameters ({@link ParamDef.Kind#MODEL}, {@link ParamDef.Kind#FILE}) resolve against the
 * directory of the config's {@code location} when relative ({@link #resolve}); model references
 * under {@code models} and {@code base_model} are used as written (relative to the working
 * directory), as mergekit does.
 */
public final class MergeConfig implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private static final Set<String> TOP_LEVEL_KEYS = Set.of(
            "models", "merge_method", "base_model", "parameters", "dtype", "out_dtype", "tokenizer_source");
    private static final Map<String, String> UNSUPPORTED_KEYS = Map.of(
            "slices", "layer slices are not supported; list whole models under 'models'",
            "modules", "modules are not supported; list whole models under 'models'",
            "tokenizer", "the tokenizer block is not supported; use 'tokenizer_source: base' or omit it",
            "chat_template", "chat templates are not supported; the base model's tokenizer files are copied");
    private static final Set<String> DTYPES = Set.of("float32", "float16", "bfloat16", "float64");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES))
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final String sourceName;
    private final String location;
    private final MergeMethod method;
    private final String baseModel;
    private final List<ModelEntry> models;
    private final Map<String, Object> parameters;
    private final String dtype;
    private final String outDtype;
    private final String tokenizerSource;

    private MergeConfig(String sourceName, String location, MergeMethod method, String baseModel,
            List<ModelEntry> models, Map<String, Object> parameters, String dtype, String outDtype,
            String tokenizerSource) {
        this.sourceName = sourceName;
        this.location = location;
        this.method = method;
        this.baseModel = baseModel;
        this.models = List.copyOf(models);
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        this.dtype = dtype;
        this.outDtype = outDtype;
        this.tokenizerSource = tokenizerSource;
    }

    /**
     * Parses and validates a mergekit YAML config; {@code sourceName} prefixes every error. Relative
     * path parameters resolve against the working directory.
     */
    public static MergeConfig parse(String yaml, String sourceName) {
        return parse(yaml, sourceName, null);
    }

    /**
     * Like {@link #parse(String, String)}, for a config read from {@code location} (a local path or
     * a Hadoop URI of the YAML file, or null): relative path parameters resolve against its directory.
     */
    public static MergeConfig parse(String yaml, String sourceName, String location) {
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new BadInputException(sourceName + ": invalid YAML: " + oneLine(e.getOriginalMessage()));
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(sourceName + ": the config must be a YAML mapping");
        }
        Iterator<String> names = root.fieldNames();
        while (names.hasNext()) {
            String key = names.next();
            if (UNSUPPORTED_KEYS.containsKey(key)) {
                throw bad(sourceName, key, UNSUPPORTED_KEYS.get(key));
            }
            if (!TOP_LEVEL_KEYS.contains(key)) {
                throw bad(sourceName, key, "unknown key (supported: " + String.join(", ", sorted(TOP_LEVEL_KEYS)) + ")");
            }
        }
        String methodName = requiredString(root, "merge_method", sourceName);
        MergeMethod method = MergeMethods.find(methodName).orElseThrow(() -> bad(sourceName, "merge_method",
                "unknown method '" + methodName + "' (known: " + String.join(", ", MergeMethods.names()) + ")"));
        String baseModel = optionalString(root, "base_model", sourceName);
        String dtype = optionalDtype(root, "dtype", sourceName);
        String outDtype = optionalDtype(root, "out_dtype", sourceName);
        String tokenizerSource = optionalString(root, "tokenizer_source", sourceName);
        if (tokenizerSource != null && !tokenizerSource.equals("base")) {
            throw bad(sourceName, "tokenizer_source",
                    "only 'base' is supported (got '" + tokenizerSource + "')");
        }
        if (tokenizerSource != null && baseModel == null) {
            throw bad(sourceName, "tokenizer_source", "'base' needs a base_model");
        }

        JsonNode modelsNode = root.get("models");
        if (modelsNode == null || modelsNode.isNull()) {
            throw bad(sourceName, "models", "required: the list of models to merge");
        }
        if (!modelsNode.isArray() || modelsNode.isEmpty()) {
            throw bad(sourceName, "models", "must be a non-empty list");
        }
        List<ModelEntry> models = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < modelsNode.size(); i++) {
            String where = "models[" + i + "]";
            JsonNode entry = modelsNode.get(i);
            if (!entry.isObject()) {
                throw bad(sourceName, where, "must be a mapping with 'model' and optional 'parameters'");
            }
            entry.fieldNames().forEachRemaining(k -> {
                if (!k.equals("model") && !k.equals("parameters")) {
                    throw bad(sourceName, where + "." + k, "unknown key (supported: model, parameters)");
                }
            });
            String model = requiredString(entry, "model", sourceName, where + ".model");
            if (!seen.add(model)) {
                throw bad(sourceName, where + ".model", "'" + model + "' is listed twice");
            }
            Map<String, Object> params = parameterBlock(entry.get("parameters"), sourceName,
                    where + ".parameters", method.tensorParameters(), List.of(), method.name());
            models.add(new ModelEntry(model, params));
        }
        Map<String, Object> global = parameterBlock(root.get("parameters"), sourceName, "parameters",
                method.parameters(), method.tensorParameters(), method.name());

        MergeConfig config = new MergeConfig(sourceName, location, method, baseModel, models, global, dtype,
                outDtype, tokenizerSource);
        config.checkRequired();
        method.validate(config);
        return config;
    }

    private void checkRequired() {
        for (ParamDef def : method.parameters()) {
            if (def.required() && !parameters.containsKey(def.name())) {
                throw bad(sourceName, "parameters." + def.name(), "required by " + method.name());
            }
        }
        for (int i = 0; i < models.size(); i++) {
            ModelEntry entry = models.get(i);
            boolean exempt = method.baseExemptFromRequired() && entry.model().equals(baseModel);
            for (ParamDef def : method.tensorParameters()) {
                if (def.required() && !exempt && !entry.parameters().containsKey(def.name())
                        && !parameters.containsKey(def.name())) {
                    throw bad(sourceName, "models[" + i + "].parameters." + def.name(),
                            "required by " + method.name() + " for model '" + entry.model() + "'");
                }
            }
        }
    }

    /** An error naming this config's source and {@code key}. */
    public BadInputException error(String key, String problem) {
        return bad(sourceName, key, problem);
    }

    public String sourceName() {
        return sourceName;
    }

    public String mergeMethod() {
        return method.name();
    }

    public MergeMethod method() {
        return method;
    }

    public Optional<String> baseModel() {
        return Optional.ofNullable(baseModel);
    }

    public List<ModelEntry> models() {
        return models;
    }

    public Optional<String> dtype() {
        return Optional.ofNullable(dtype);
    }

    public Optional<String> outDtype() {
        return Optional.ofNullable(outDtype);
    }

    public Optional<String> tokenizerSource() {
        return Optional.ofNullable(tokenizerSource);
    }

    public Map<String, Object> parameters() {
        return parameters;
    }

    /** Distinct model references: the base model first (if any), then {@code models} in order. */
    public List<String> inputModels() {
        LinkedHashSet<String> refs = new LinkedHashSet<>();
        if (baseModel != null) {
            refs.add(baseModel);
        }
        for (ModelEntry entry : models) {
            refs.add(entry.model());
        }
        return List.copyOf(refs);
    }

    /**
     * The extra model inputs: each {@link ParamDef.Kind#MODEL} parameter that is set, by name, with
     * its reference as written, in the method's parameter order.
     */
    public Map<String, String> extraModels() {
        Map<String, String> extras = new LinkedHashMap<>();
        for (ParamDef def : method.parameters()) {
            if (def.kind() == ParamDef.Kind.MODEL && parameters.containsKey(def.name())) {
                extras.put(def.name(), (String) parameters.get(def.name()));
            }
        }
        return extras;
    }

    /**
     * The absolute location of path parameter {@code parameter} ({@link ParamDef.Kind#MODEL} or
     * {@link ParamDef.Kind#FILE}), resolved against the config file's directory.
     */
    public String resolve(String parameter) {
        Object value = parameters.get(parameter);
        if (!(value instanceof String ref)) {
            throw new IllegalArgumentException("parameter " + parameter + " is not a set path: " + value);
        }
        return resolvePath(ref, location);
    }

    /**
     * {@code ref} made absolute: a URI with a scheme as is; a relative path against the directory
     * of {@code location} (a local path or Hadoop URI of a file), or against the working directory
     * when {@code location} is null. Each part of {@code BASE+ADAPTER} resolves on its own.
     */
    public static String resolvePath(String ref, String location) {
        if (ref.contains("+") && !ref.contains("://")) {
            List<String> resolved = new ArrayList<>();
            for (String part : ref.split("\\+", -1)) {
                resolved.add(resolvePath(part, location));
            }
            return String.join("+", resolved);
        }
        if (HadoopFs.hasScheme(ref)) {
            return ref;
        }
        if (location == null || !HadoopFs.hasScheme(location)) {
            java.nio.file.Path dir = location == null ? java.nio.file.Path.of("")
                    : java.nio.file.Path.of(location).toAbsolutePath().getParent();
            return dir.resolve(ref).toAbsolutePath().normalize().toUri().toString();
        }
        return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(location).getParent(), ref).toString();
    }

    /** The per-model settings of {@code model}, empty if it is only the base model. */
    public Map<String, Object> modelParameters(String model) {
        for (ModelEntry entry : models) {
            if (entry.model().equals(model)) {
                return entry.parameters();
            }
        }
        return Map.of();
    }

    /**
     * Canonical YAML for provenance: keys in a fixed order, parameter names sorted, dtypes
     * canonical, defaults not filled in; equal configs give equal text.
     */
    public String normalizedYaml() {
        ObjectNode root = YAML.createObjectNode();
        root.put("merge_method", method.name());
        if (baseModel != null) {
            root.put("base_model", baseModel);
        }
        var list = root.putArray("models");
        for (ModelEntry entry : models) {
            ObjectNode m = list.addObject();
            m.put("model", entry.model());
            if (!entry.parameters().isEmpty()) {
                m.set("parameters", YAML.valueToTree(new TreeMap<>(entry.parameters())));
            }
        }
        if (!parameters.isEmpty()) {
            root.set("parameters", YAML.valueToTree(new TreeMap<>(parameters)));
        }
        if (dtype != null) {
            root.put("dtype", dtype);
        }
        if (outDtype != null) {
            root.put("out_dtype", outDtype);
        }
        if (tokenizerSource != null) {
            root.put("tokenizer_source", tokenizerSource);
        }
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise config", e);
        }
    }

    @Override
    public String toString() {
        return normalizedYaml();
    }

    // ---- parsing helpers ----

    private static Map<String, Object> parameterBlock(JsonNode node, String source, String where,
            List<ParamDef> allowed, List<ParamDef> alsoAllowed, String methodName) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (!node.isObject()) {
            throw bad(source, where, "must be a mapping of parameter names to values");
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
                throw bad(source, key, "not a parameter of " + methodName + " here (accepted: "
                        + (known.isEmpty() ? "none" : String.join(", ", known)) + ")");
            }
            if (field.getValue().isNull()) {
                continue;
            }
            out.put(field.getKey(), def.kind().wholeMerge() ? wholeMergeSetting(field.getValue(), def, source, key)
                    : setting(field.getValue(), def, source, key));
        }
        return out;
    }

    private static ParamDef findDef(String name, List<ParamDef> a, List<ParamDef> b) {
        for (ParamDef d : a) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        for (ParamDef d : b) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** A path, or a list of names: one value for the whole merge, no gradient or filter. */
    private static Object wholeMergeSetting(JsonNode node, ParamDef def, String source, String key) {
        if (def.kind() != ParamDef.Kind.NAMES) {
            if (!node.isTextual() || node.asText().isBlank()) {
                throw bad(source, key, "must be a path (a non-empty string)");
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
                    throw bad(source, key + "[" + i + "]", "must be a name (a string)");
                }
                names.add(node.get(i).asText().trim());
            }
        } else {
            throw bad(source, key, "must be a list of names or one comma-separated string");
        }
        if (names.isEmpty() || names.stream().anyMatch(String::isEmpty)) {
            throw bad(source, key, "must hold one or more non-empty names");
        }
        return List.copyOf(names);
    }

    /** Converts one setting (scalar, gradient list or filter list) to plain Java values, checking kinds. */
    private static Object setting(JsonNode node, ParamDef def, String source, String key) {
        if (node.isArray()) {
            if (node.isEmpty()) {
                throw bad(source, key, "an empty list is not a value");
            }
            boolean conditions = node.get(0).isObject();
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < node.size(); i++) {
                JsonNode e = node.get(i);
                String ek = key + "[" + i + "]";
                if (e.isObject() != conditions) {
                    throw bad(source, ek, "a list must hold either {filter, value} entries or plain values, not both");
                }
                list.add(conditions ? condition(e, def, source, ek) : scalar(e, def, source, ek));
            }
            return List.copyOf(list);
        }
        if (node.isObject()) {
            return List.of(condition(node, def, source, key));
        }
        return scalar(node, def, source, key);
    }

    private static Map<String, Object> condition(JsonNode node, ParamDef def, String source, String key) {
        Map<String, Object> cond = new LinkedHashMap<>();
        node.fieldNames().forEachRemaining(k -> {
            if (!k.equals("filter") && !k.equals("value")) {
                throw bad(source, key + "." + k, "unknown key (a condition has 'filter' and 'value')");
            }
        });
        JsonNode filter = node.get("filter");
        if (filter != null && !filter.isNull()) {
            if (!filter.isTextual()) {
                throw bad(source, key + ".filter", "must be a string");
            }
            cond.put("filter", filter.asText());
        }
        JsonNode value = node.get("value");
        if (value == null || value.isNull()) {
            throw bad(source, key + ".value", "required in a {filter, value} entry");
        }
        if (value.isArray()) {
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < value.size(); i++) {
                if (value.get(i).isContainerNode()) {
                    throw bad(source, key + ".value[" + i + "]", "must be a plain value");
                }
                list.add(scalar(value.get(i), def, source, key + ".value[" + i + "]"));
            }
            if (list.isEmpty()) {
                throw bad(source, key + ".value", "an empty list is not a value");
            }
            cond.put("value", List.copyOf(list));
        } else if (value.isObject()) {
            throw bad(source, key + ".value", "must be a value or a list of values, not a mapping");
        } else {
            cond.put("value", scalar(value, def, source, key + ".value"));
        }
        return Collections.unmodifiableMap(cond);
    }

    private static Object scalar(JsonNode node, ParamDef def, String source, String key) {
        switch (def.kind()) {
            case NUMBER:
                if (node.isNumber()) {
                    return node.isIntegralNumber() ? (Object) node.longValue() : (Object) node.doubleValue();
                }
                if (node.isTextual()) {
                    // YAML 1.1 reads "1e-3" (no dot) as a string; accept numeric text.
                    try {
                        return Double.parseDouble(node.asText().trim());
                    } catch (NumberFormatException e) {
                        throw bad(source, key, "must be a number (got '" + node.asText() + "')");
                    }
                }
                throw bad(source, key, "must be a number (got " + node.getNodeType().toString().toLowerCase() + ")");
            case BOOLEAN:
                if (node.isBoolean()) {
                    return node.booleanValue();
                }
                if (node.isNumber()) {
                    return node.isIntegralNumber() ? (Object) node.longValue() : (Object) node.doubleValue();
                }
                throw bad(source, key, "must be true or false");
            case STRING:
                if (node.isTextual()) {
                    return node.asText();
                }
                throw bad(source, key, "must be a string");
            case MODEL, FILE, NAMES:
                throw new IllegalStateException(def.kind() + " settings are read by wholeMergeSetting");
            default:
                throw new IllegalStateException("unknown kind " + def.kind());
        }
    }

    private static String requiredString(JsonNode node, String field, String source) {
        return requiredString(node, field, source, field);
    }

    private static String requiredString(JsonNode node, String field, String source, String key) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw bad(source, key, "required");
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw bad(source, key, "must be a non-empty string");
        }
        return v.asText();
    }

    private static String optionalString(JsonNode node, String field, String source) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw bad(source, field, "must be a non-empty string");
        }
        return v.asText();
    }

    private static String optionalDtype(JsonNode node, String field, String source) {
        String v = optionalString(node, field, source);
        if (v == null) {
            return null;
        }
        String name = v.startsWith("torch.") ? v.substring("torch.".length()) : v;
        if (!DTYPES.contains(name)) {
            throw bad(source, field, "unsupported dtype '" + v + "' (supported: " + String.join(", ", sorted(DTYPES)) + ")");
        }
        return name;
    }

    private static List<String> sorted(Set<String> s) {
        List<String> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }

    private static BadInputException bad(String source, String key, String problem) {
        return new BadInputException(source + ": " + key + ": " + problem);
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
    }
}
