package dev.mergeval.merge;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A validated mergekit merge configuration restricted to what Mergeval supports: {@code models},
 * {@code slices} or {@code modules}, {@code merge_method}, {@code base_model}, {@code parameters}, {@code dtype},
 * {@code out_dtype}, {@code tokenizer_source} ({@code base}, {@code union} or a model path) or the
 * {@code tokenizer:} block, and {@code chat_template}.
 * {@link #parse} reads and checks one (see {@link MergeConfigParser} for what is rejected); the
 * canonical constructor checks nothing.
 *
 * <p>A {@code slices:} config ({@link #isSliced()}) has no {@code models}; each slice is merged as
 * the {@code models:} config {@link #forSlice} makes of it, and {@link MergeLayout} says which
 * input layers make which output layers. A {@code modules:} config ({@link MergeModule}) is one too
 * once its models are open: {@link MergekitModules#resolve} lays each module out as slices over its
 * own layers, as mergekit's planner normalizes it, and keeps the modules.
 *
 * <p>A value: equal by content and serializable, so the parsed config travels as it is to Spark
 * executors (inside a merge plan or a model source) and is never re-parsed there. The method is
 * held by its registry name, {@link #method()} looks it up.
 *
 * <p>Path parameters ({@link ParamDef.Kind#MODEL}, {@link ParamDef.Kind#FILE}) resolve against the
 * directory of the config's {@code location} when relative ({@link #resolve}); model references
 * under {@code models} and {@code base_model} are used as written (relative to the working
 * directory), as mergekit does.
 *
 * @param sourceName what every error names first (a file name, or a sweep point)
 * @param location the local path or Hadoop URI the YAML was read from, if any
 * @param mergeMethod the registry name of the method
 * @param parameters the global {@code parameters:} block: scalars, gradient lists and
 *     {@code {filter, value}} condition lists as parsed, by name in the order written
 * @param tokenizerSource {@code tokenizer_source}, or the {@code tokenizer:} block's {@code source}
 *     ({@code union} where the block has none)
 * @param tokenizer the rest of the {@code tokenizer:} block, where one was given
 * @param chatTemplate {@code chat_template}: {@code auto}, a template's name or a Jinja template
 *     ({@link ChatTemplates})
 * @param slices the {@code slices:} list, empty for a {@code models:} config (and for a
 *     {@code modules:} config until {@link MergekitModules#resolve} lays its modules out)
 * @param modules the {@code modules:} mapping in the order written, empty for the other forms
 * @param ignored what the config says that no part of the merge reads, each as {@code key: why}
 *     (parameters the method does not take, unknown keys): mergekit ignores them, and so does
 *     Mergeval, with a warning
 */
public record MergeConfig(
        String sourceName,
        Optional<String> location,
        String mergeMethod,
        Optional<String> baseModel,
        List<ModelEntry> models,
        Map<String, Object> parameters,
        Optional<String> dtype,
        Optional<String> outDtype,
        Optional<String> tokenizerSource,
        Optional<TokenizerSettings> tokenizer,
        Optional<String> chatTemplate,
        List<MergeSlice> slices,
        List<MergeModule> modules,
        List<String> ignored) implements Serializable {

    public MergeConfig {
        Objects.requireNonNull(sourceName, "sourceName");
        Objects.requireNonNull(mergeMethod, "mergeMethod");
        models = List.copyOf(models);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        slices = List.copyOf(slices);
        modules = List.copyOf(modules);
        ignored = List.copyOf(ignored);
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
        return new MergeConfigParser(sourceName).parse(yaml, location);
    }

    /**
     * The model whose tokenizer the output takes when {@code tokenizer_source} names one (a model
     * path, as mergekit reads it, optionally written {@code model:PATH}), as written; empty for
     * {@code base} or none.
     */
    public Optional<String> tokenizerModel() {
        return tokenizerSource.filter(source -> !source.equals("base") && !source.equals("union"))
                .map(source -> source.startsWith("model:") ? source.substring("model:".length()) : source);
    }

    /**
     * Every location this merge reads, resolved as the merge resolves them: the models (a
     * {@code BASE+ADAPTER} as one), the extra models, the tokenizer's source and the file parameters.
     */
    public List<String> readLocations() {
        String at = location.orElse(null);
        LinkedHashSet<String> read = new LinkedHashSet<>();
        inputModels().forEach(ref -> read.add(resolvePath(ref, at)));
        extraModels().keySet().forEach(parameter -> read.add(resolve(parameter)));
        tokenizerModel().ifPresent(ref -> read.add(resolvePath(ref, at)));
        read.addAll(fileParameters().values());
        return List.copyOf(read);
    }

    /** Each {@link ParamDef.Kind#FILE} parameter that is set, by name, with its resolved location. */
    public Map<String, String> fileParameters() {
        Map<String, String> files = new LinkedHashMap<>();
        for (ParamDef def : method().parameters()) {
            if (def.kind() == ParamDef.Kind.FILE && parameters.containsKey(def.name())) {
                files.put(def.name(), resolve(def.name()));
            }
        }
        return files;
    }

    /** The registered method named by {@link #mergeMethod()}. */
    public MergeMethod method() {
        return MergeMethods.find(mergeMethod)
                .orElseThrow(() -> new IllegalStateException("no merge method " + mergeMethod));
    }

    /** This config with errors naming {@code name} as their source. */
    public MergeConfig withSourceName(String name) {
        return new MergeConfig(name, location, mergeMethod, baseModel, models, parameters, dtype, outDtype,
                tokenizerSource, tokenizer, chatTemplate, slices, modules, ignored);
    }

    /** This config with {@code slices} in place of its own (a {@code modules:} config laid out). */
    public MergeConfig withSlices(List<MergeSlice> slices) {
        return new MergeConfig(sourceName, location, mergeMethod, baseModel, models, parameters, dtype, outDtype,
                tokenizerSource, tokenizer, chatTemplate, slices, modules, ignored);
    }

    /** True for a {@code slices:} or {@code modules:} config. */
    public boolean isSliced() {
        return !slices.isEmpty() || !modules.isEmpty();
    }

    /** True for a {@code modules:} config. */
    public boolean isModular() {
        return !modules.isEmpty();
    }

    /**
     * Slice {@code index} as the {@code models:} config that merges its layers: its sources as the
     * models (with their own parameters), its {@link #sliceBase} only where it is one of them, and
     * as global parameters the slice's settings in front of the global ones (a slice's filter list
     * that matches no tensor falls through to the global setting, as in mergekit).
     */
    public MergeConfig forSlice(int index) {
        MergeSlice slice = slices.get(index);
        List<ModelEntry> entries = new ArrayList<>();
        for (SliceSource source : slice.sources()) {
            entries.add(new ModelEntry(source.model(), source.parameters()));
        }
        Optional<String> base = sliceBase(index).filter(b -> entries.stream().anyMatch(e -> e.model().equals(b)));
        Map<String, Object> merged = inFrontOf(slice.parameters(), parameters);
        return new MergeConfig(sourceName, location, mergeMethod, base, entries, merged, dtype, outDtype,
                tokenizerSource, tokenizer, chatTemplate, List.of(), List.of(), ignored);
    }

    /**
     * A module's {@code models:} as the {@code models:} config that merges it: the module's
     * parameters in front of the global ones, the config's base model.
     */
    public MergeConfig forModule(MergeModule module) {
        return new MergeConfig(sourceName, location, mergeMethod, baseModel, module.models(),
                inFrontOf(module.parameters(), parameters), dtype, outDtype, tokenizerSource, tokenizer, chatTemplate,
                List.of(), List.of(), ignored);
    }

    /**
     * {@code front}'s settings consulted before {@code back}'s ({@link #inFrontOf(Object, Object)}),
     * with the names only {@code back} has.
     */
    static Map<String, Object> inFrontOf(Map<String, Object> front, Map<String, Object> back) {
        Map<String, Object> merged = new LinkedHashMap<>(back);
        front.forEach((name, setting) -> merged.put(name, inFrontOf(setting, back.get(name))));
        return merged;
    }

    /**
     * Slice {@code index}'s base model: its own {@code base_model}, else the config's (mergekit's
     * {@code ConfigReader.base_model}).
     */
    public Optional<String> sliceBase(int index) {
        return slices.get(index).ownBase().or(() -> baseModel);
    }

    /**
     * A setting consulted before {@code fallback}: a scalar or gradient always gives a value, so it
     * replaces the fallback; a {@code {filter, value}} list gets the fallback appended (as one
     * unfiltered entry, or its own entries).
     */
    private static Object inFrontOf(Object setting, Object fallback) {
        if (fallback == null || !(setting instanceof List<?> list) || list.isEmpty()
                || !(list.get(0) instanceof Map)) {
            return setting;
        }
        List<Object> chain = new ArrayList<>(list);
        if (fallback instanceof List<?> f && !f.isEmpty() && f.get(0) instanceof Map) {
            chain.addAll(f);
        } else {
            chain.add(Map.of("value", fallback));
        }
        return List.copyOf(chain);
    }

    /** An error naming this config's source and {@code key}. */
    public BadInputException error(String key, String problem) {
        return MergeConfigParser.bad(sourceName, key, problem);
    }

    /**
     * The model whose config, tokenizer and tensor order the output takes, and whose tensors the
     * others are checked against: the base model, else the first.
     */
    public String referenceModel() {
        return baseModel.orElse(inputModels().get(0));
    }

    /**
     * Distinct model references: the base model first (if any), then {@code models} in order (or
     * the slices' sources in order).
     */
    public List<String> inputModels() {
        LinkedHashSet<String> refs = new LinkedHashSet<>();
        baseModel.ifPresent(refs::add);
        for (ModelEntry entry : models) {
            refs.add(entry.model());
        }
        for (MergeSlice slice : slices) {
            slice.sources().forEach(source -> refs.add(source.model()));
        }
        for (MergeModule module : modules) {
            module.models().forEach(entry -> refs.add(entry.model()));
            module.slices().forEach(slice -> slice.sources().forEach(source -> refs.add(source.model())));
        }
        return List.copyOf(refs);
    }

    /**
     * The extra model inputs: each {@link ParamDef.Kind#MODEL} parameter that is set, by name, with
     * its reference as written, in the method's parameter order.
     */
    public Map<String, String> extraModels() {
        Map<String, String> extras = new LinkedHashMap<>();
        for (ParamDef def : method().parameters()) {
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
        return resolvePath(ref, location.orElse(null));
    }

    /**
     * {@code ref} made absolute: a URI with a scheme as is; a relative path against the directory
     * of {@code location} (a local path or Hadoop URI of a file), or against the working directory
     * when {@code location} is null. Each part of {@code BASE+ADAPTER} resolves on its own; a local
     * path with a {@code '+'} in a name is one path where it exists, and else splits where
     * {@code Checkpoint.open} splits it, at the rightmost {@code '+'} followed by an adapter folder.
     */
    public static String resolvePath(String ref, String location) {
        if (ref.contains("+") && !ref.contains("://")) {
            String local = location == null || !HadoopFs.hasScheme(location) ? resolveLocal(ref, location) : null;
            if (local != null) {
                return local;
            }
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
            return HadoopFs.location(localPath(ref, location));
        }
        return new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(location).getParent(), ref).toString();
    }

    /**
     * A local reference with a {@code '+'}: the path it names where that exists, else a base and the
     * adapter folder after the rightmost {@code '+'} that is followed by one; null where neither is found
     * (every part then resolves on its own, and the error names what is missing).
     */
    private static String resolveLocal(String ref, String location) {
        java.nio.file.Path whole = localPath(ref, location);
        if (java.nio.file.Files.exists(whole)) {
            return HadoopFs.location(whole);
        }
        for (int plus = ref.lastIndexOf('+'); plus > 0; plus = ref.lastIndexOf('+', plus - 1)) {
            java.nio.file.Path adapter = localPath(ref.substring(plus + 1), location);
            if (plus < ref.length() - 1 && java.nio.file.Files.isRegularFile(adapter.resolve("adapter_config.json"))) {
                return resolvePath(ref.substring(0, plus), location) + "+" + HadoopFs.location(adapter);
            }
        }
        return null;
    }

    private static java.nio.file.Path localPath(String ref, String location) {
        java.nio.file.Path dir = location == null ? java.nio.file.Path.of("")
                : java.nio.file.Path.of(location).toAbsolutePath().getParent();
        return dir.resolve(ref);
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
        ObjectNode root = MergeConfigParser.YAML.createObjectNode();
        root.put("merge_method", mergeMethod);
        baseModel.ifPresent(base -> root.put("base_model", base));
        if (isModular()) {
            ObjectNode block = root.putObject("modules");
            for (MergeModule module : modules) {
                ObjectNode out = block.putObject(module.name());
                if (module.slices().isEmpty()) {
                    putModels(out, module.models());
                } else {
                    putSlices(out, module.slices());
                }
                putParameters(out, module.parameters());
            }
        } else if (isSliced()) {
            putSlices(root, slices);
        } else {
            putModels(root, models);
        }
        if (!parameters.isEmpty()) {
            root.set("parameters", MergeConfigParser.YAML.valueToTree(new TreeMap<>(parameters)));
        }
        dtype.ifPresent(d -> root.put("dtype", d));
        outDtype.ifPresent(d -> root.put("out_dtype", d));
        if (tokenizer.isPresent()) {
            ObjectNode block = root.putObject("tokenizer");
            tokenizerSource.ifPresent(t -> block.put("source", t));
            if (!tokenizer.get().tokens().isEmpty()) {
                ObjectNode tokens = block.putObject("tokens");
                tokenizer.get().tokens().forEach((token, e) -> {
                    ObjectNode entry = tokens.putObject(token);
                    switch (e.kind()) {
                        case MODEL -> entry.put("source", e.model());
                        case ZERO -> entry.putObject("source").put("kind", "zero");
                        case MODEL_TOKEN -> {
                            ObjectNode source = entry.putObject("source").put("kind", "model_token")
                                    .put("model", e.model());
                            if (e.token() != null) {
                                source.put("token", e.token());
                            } else {
                                source.put("token_id", e.tokenId());
                            }
                        }
                    }
                    if (e.force()) {
                        entry.put("force", true);
                    }
                });
            }
            if (tokenizer.get().padToMultipleOf() > 0) {
                block.put("pad_to_multiple_of", tokenizer.get().padToMultipleOf());
            }
        } else {
            tokenizerSource.ifPresent(t -> root.put("tokenizer_source", t));
        }
        chatTemplate.ifPresent(t -> root.put("chat_template", t));
        try {
            return MergeConfigParser.YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise config", e);
        }
    }

    private static void putSlices(ObjectNode node, List<MergeSlice> slices) {
        var list = node.putArray("slices");
        for (MergeSlice slice : slices) {
            ObjectNode out = list.addObject();
            var sources = out.putArray("sources");
            for (SliceSource source : slice.sources()) {
                ObjectNode m = sources.addObject();
                m.put("model", source.model());
                m.putArray("layer_range").add(source.start()).add(source.end());
                putParameters(m, source.parameters());
            }
            putParameters(out, slice.parameters());
            slice.ownBase().ifPresent(base -> out.put("base_model", base));
        }
    }

    private static void putModels(ObjectNode node, List<ModelEntry> models) {
        var list = node.putArray("models");
        for (ModelEntry entry : models) {
            ObjectNode m = list.addObject();
            m.put("model", entry.model());
            putParameters(m, entry.parameters());
        }
    }

    private static void putParameters(ObjectNode node, Map<String, Object> parameters) {
        if (!parameters.isEmpty()) {
            node.set("parameters", MergeConfigParser.YAML.valueToTree(new TreeMap<>(parameters)));
        }
    }

    @Override
    public String toString() {
        return normalizedYaml();
    }

    /** Serialized as {@link Form}: {@link Optional} is not serializable. */
    @Serial
    private Object writeReplace() {
        return new Form(sourceName, location.orElse(null), mergeMethod, baseModel.orElse(null), models, parameters,
                dtype.orElse(null), outDtype.orElse(null), tokenizerSource.orElse(null), tokenizer.orElse(null),
                chatTemplate.orElse(null), slices, modules, ignored);
    }

    /** The serialized form of a {@link MergeConfig}: its components, absent ones null. */
    private record Form(String sourceName, String location, String mergeMethod, String baseModel,
            List<ModelEntry> models, Map<String, Object> parameters, String dtype, String outDtype,
            String tokenizerSource, TokenizerSettings tokenizer, String chatTemplate, List<MergeSlice> slices,
            List<MergeModule> modules, List<String> ignored) implements Serializable {
        @Serial
        private static final long serialVersionUID = 5L;

        @Serial
        private Object readResolve() {
            return new MergeConfig(sourceName, Optional.ofNullable(location), mergeMethod,
                    Optional.ofNullable(baseModel), models, parameters, Optional.ofNullable(dtype),
                    Optional.ofNullable(outDtype), Optional.ofNullable(tokenizerSource),
                    Optional.ofNullable(tokenizer), Optional.ofNullable(chatTemplate),
                    slices == null ? List.of() : slices, modules == null ? List.of() : modules,
                    ignored == null ? List.of() : ignored);
        }
    }
}
