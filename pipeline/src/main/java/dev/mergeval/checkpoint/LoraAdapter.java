package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PEFT LoRA adapter: {@code adapter_config.json} plus {@code adapter_model.safetensors}, loaded
 * into memory (A and B are small: rank x dimension).
 *
 * <p>For a linear module with weight {@code W [out, in]} PEFT stores
 * {@code base_model.model.<module>.lora_A.weight [r, in]} and {@code ...lora_B.weight [out, r]};
 * the merged weight is {@code W + scale * (B @ A)}, transposed for a GPT-2 style {@code Conv1D}
 * weight stored as {@code [in, out]}. Which of the two a module is comes from the base model, as in
 * PEFT, which overrides a config's {@code fan_in_fan_out} that contradicts the layer (with a
 * warning, as here). The scale is
 * {@code lora_alpha / r}, or {@code lora_alpha / sqrt(r)} with {@code use_rslora}; {@code r} and
 * {@code lora_alpha} come from {@code rank_pattern}/{@code alpha_pattern} where a key matches the
 * module as PEFT's {@code get_pattern_key} does (first key, in file order, such that the module
 * name matches {@code (.*\.)?(KEY)$}), else from {@code r}/{@code lora_alpha}.
 *
 * <p>For an embedding {@code W [vocab, dim]} PEFT stores {@code ...lora_embedding_A [r, vocab]} and
 * {@code ...lora_embedding_B [dim, r]} (no {@code .weight}): a token's row gains
 * {@code scale * (B @ A)[:, token]}, so the merged weight is {@code W + scale * (B @ A)^T}.
 *
 * <p>Full-weight tensors of the modules named in {@code modules_to_save} (PEFT saves them as
 * {@code base_model.model.<module>.<param>}, which {@code PeftModel.from_pretrained} loads into the
 * module's copy) replace the base tensor of the same name whole; a module matches an entry that
 * equals it or is a dotted suffix of it, as for {@code target_modules}.
 *
 * <p>With {@code lora_bias: true} (PEFT 0.14 and later) a linear module's {@code lora_B} also has a
 * bias, {@code ...lora_B.bias [out]}, which is what an extraction from a full fine-tune writes for a
 * module whose bias changed ({@code mergeval extract-lora}): the module's base bias {@code b} reads
 * as {@code b + scale * lora_B.bias}, rounded once to the base dtype, as PEFT's merge computes
 * {@code (base_layer.bias + lora_B.bias * scaling).to(orig_dtype)}.
 *
 * <p>Every module with factors must be one PEFT adapts when it loads the adapter
 * ({@code check_target_module_exists}): in {@code target_modules} (a full-match regex; or names, each
 * the module or a dotted suffix of it; or {@code all-linear}: linear layers except the output head),
 * not in {@code exclude_modules}, not inside a module of {@code modules_to_save}, and, where a name
 * matched as a suffix, in a layer of {@code layers_to_transform} (the index after
 * {@code layers_pattern}, or after any name). PEFT leaves the factors of any other module unloaded;
 * here they are refused, naming the module and the field.
 *
 * <p>Supported: linear and embedding LoRA, {@code lora_bias} and {@code modules_to_save}. Refused
 * with a message: other PEFT types, DoRA ({@code use_dora}), trained biases ({@code bias} other
 * than {@code none}), convolution LoRA, and full-weight tensors of modules not in
 * {@code modules_to_save}.
 */
public final class LoraAdapter {

    static final String ADAPTER_WEIGHTS = "adapter_model.safetensors";
    static final String PEFT_PREFIX = "base_model.model.";
    private static final String A_SUFFIX = ".lora_A.weight";
    private static final String B_SUFFIX = ".lora_B.weight";
    /** A linear module's {@code lora_B} bias, with {@code lora_bias: true}. */
    public static final String B_BIAS_SUFFIX = ".lora_B.bias";
    private static final String EMBEDDING_A_SUFFIX = ".lora_embedding_A";
    private static final String EMBEDDING_B_SUFFIX = ".lora_embedding_B";
    /** PEFT's LoRA parameter names: linear A and B, then embedding A and B (index = {@link #loraPart}). */
    private static final String[] SUFFIXES = {A_SUFFIX, B_SUFFIX, EMBEDDING_A_SUFFIX, EMBEDDING_B_SUFFIX};
    /** transformers' model types whose linear layers are {@code Conv1D}, stored {@code [in, out]}. */
    private static final Set<String> CONV1D_MODEL_TYPES = Set.of("gpt2", "openai-gpt", "imagegpt",
            "decision_transformer");
    /** The output head's module names (an {@code nn.Linear} in every architecture). */
    private static final Set<String> HEADS = Set.of("lm_head", "embed_out");
    private static final Logger LOG = LoggerFactory.getLogger(LoraAdapter.class);

    /**
     * One adapted linear module. {@code left [rows, rank]} and {@code right [rank, cols]} are laid
     * out so that the weight's delta is {@code scale * left @ right} in the base tensor's own
     * {@code [rows, cols]} layout: {@code left = B, right = A} normally, and {@code left = A^T,
     * right = B^T} for fan_in_fan_out and for an embedding.
     */
    public record Module(String module, String baseTensor, int rank, double alpha, float scale,
                         int rows, int cols, float[] left, float[] right) {
    }

    /**
     * The {@code lora_B} bias of a linear module ({@code lora_bias: true}): base tensor
     * {@code baseTensor} ({@code <module>.bias}) reads as {@code base + scale * values}.
     */
    public record BiasDelta(String module, String baseTensor, float scale, float[] values) {
    }

    /**
     * A whole tensor saved under {@code modules_to_save}: it replaces the base tensor {@code tensor}.
     *
     * @param values its elements as floats, row-major
     */
    public record Saved(String tensor, DType dtype, long[] shape, float[] values) {
    }

    private final String dir;
    private final Map<String, Module> byBaseTensor;
    private final Map<String, Saved> saved;
    private final Map<String, BiasDelta> biases;
    private final ShardFile weightsFile;
    private final ShardFile configFile;

    private LoraAdapter(String dir, Map<String, Module> byBaseTensor, Map<String, Saved> saved,
                        Map<String, BiasDelta> biases, ShardFile weightsFile, ShardFile configFile) {
        this.dir = dir;
        this.byBaseTensor = Collections.unmodifiableMap(byBaseTensor);
        this.saved = Collections.unmodifiableMap(saved);
        this.biases = Collections.unmodifiableMap(biases);
        this.weightsFile = weightsFile;
        this.configFile = configFile;
    }

    /**
     * Loads and validates the adapter in directory {@code dirUri}, its linear factors laid out as
     * its config's {@code fan_in_fan_out} says (for a reader that applies them to no base).
     */
    public static LoraAdapter load(String dirUri, Configuration conf) {
        return load(dirUri, conf, null);
    }

    /**
     * Loads and validates the adapter in directory {@code dirUri} for a base whose linear layers are
     * {@code Conv1D} ({@code conv1dBase}, {@link #storesConv1d}) or {@code nn.Linear}; null takes the
     * config's {@code fan_in_fan_out}.
     */
    public static LoraAdapter load(String dirUri, Configuration conf, Boolean conv1dBase) {
        Path dir = new Path(dirUri);
        FileSystem fs = HadoopFs.get(dir, conf);
        dir = fs.makeQualified(dir);
        Path cfgPath = new Path(dir, CheckpointResolver.ADAPTER_CONFIG);
        ShardFile configFile;
        try {
            configFile = ShardFile.of(cfgPath, fs.getFileStatus(cfgPath));
        } catch (FileNotFoundException e) {
            throw new BadInputException(cfgPath + ": not found");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + cfgPath, e);
        }
        ObjectNode cfg = Json.readObject(fs, cfgPath, CheckpointResolver.MAX_JSON_BYTES);
        String where = cfgPath.toString();
        JsonNode type = cfg.get("peft_type");
        if (type == null || type.isNull()) {
            throw new BadInputException(where + ": missing peft_type (PEFT loads no adapter config without it;"
                    + " a LoRA adapter's is \"LORA\")");
        }
        String peftType = text(cfg, "peft_type", "LORA", where);
        if (!peftType.equals("LORA")) {
            throw new BadInputException(where + ": peft_type " + peftType
                    + " is not supported (only LORA)");
        }
        if (bool(cfg, "use_dora", where)) {
            throw new BadInputException(where + ": use_dora (DoRA) is not supported");
        }
        String bias = text(cfg, "bias", "none", where);
        if (!bias.equals("none")) {
            throw new BadInputException(where + ": bias '" + bias
                    + "' is not supported (only 'none': trained biases are not merged)");
        }
        int r = positiveInt(cfg, "r", where);
        double alpha = number(cfg, "lora_alpha", where);
        boolean rslora = bool(cfg, "use_rslora", where);
        boolean fanInFanOut = bool(cfg, "fan_in_fan_out", where);
        boolean loraBias = bool(cfg, "lora_bias", where);
        List<PatternValue> rankPattern = patternMap(cfg, "rank_pattern", where);
        List<PatternValue> alphaPattern = patternMap(cfg, "alpha_pattern", where);
        List<String> toSave = modulesToSave(cfg, where);
        Targeting targets = Targeting.parse(cfg, toSave, where);

        Path weights = new Path(dir, ADAPTER_WEIGHTS);
        if (!CheckpointResolver.isFile(fs, weights)) {
            if (CheckpointResolver.isFile(fs, new Path(dir, "adapter_model.bin"))) {
                throw CheckpointResolver.pickleRefusal(new Path(dir, "adapter_model.bin").toString());
            }
            throw new BadInputException(dir + ": no " + ADAPTER_WEIGHTS);
        }
        Map<String, Module> modules = new LinkedHashMap<>();
        Map<String, Saved> saved = new LinkedHashMap<>();
        Map<String, BiasDelta> biases = new LinkedHashMap<>();
        try (Checkpoint w = SafetensorsCheckpoint.open(weights.toString(), fs, dir, List.of(weights),
                null, null)) {
            Map<String, String[]> pairs = pairTensors(w, weights.toString(), toSave, loraBias);
            for (String name : w.tensorNames()) {
                if (loraPart(name) < 0 && !name.endsWith(B_BIAS_SUFFIX)) {
                    TensorInfo t = w.info(name);
                    String tensor = name.substring(PEFT_PREFIX.length());
                    saved.put(tensor, new Saved(tensor, t.dtype(), t.shape(), w.readFloats(name)));
                }
            }
            boolean warned = false;
            for (Map.Entry<String, String[]> e : pairs.entrySet()) {
                String module = e.getKey();
                boolean embedding = loraPart(e.getValue()[0]) >= 2;
                String notAdapted = targets.whyNot(module, embedding);
                if (notAdapted != null) {
                    throw new BadInputException(weights + ": module '" + module + "' has LoRA weights, but "
                            + notAdapted + " in " + where + " (PEFT would not load them)");
                }
                int rr = (int) lookup(rankPattern, module, r);
                double aa = lookup(alphaPattern, module, alpha);
                boolean conv1d = conv1dBase == null ? fanInFanOut : conv1dBase && !isOutputHead(module);
                if (!embedding && conv1d != fanInFanOut && !warned) {
                    LOG.warn("{}: fan_in_fan_out is {}, but the base model's layer '{}' is {}; its factors are"
                            + " applied as for the layer, as PEFT does", where, fanInFanOut, module,
                            conv1d ? "a Conv1D, stored [in, out]" : "an nn.Linear, stored [out, in]");
                    warned = true;
                }
                Module m = loadModule(w, module, e.getValue(), rr, aa, rslora, conv1d, weights);
                modules.put(module + ".weight", m);
                String biasName = PEFT_PREFIX + module + B_BIAS_SUFFIX;
                if (w.contains(biasName)) {
                    biases.put(module + ".bias", loadBias(w, biasName, m, weights));
                }
            }
            return new LoraAdapter(dir.toString(), modules, saved, biases, w.shardFiles().get(0), configFile);
        }
    }

    /**
     * Whether a model of this {@code config.json} stores its attention and MLP weights as
     * transformers' {@code Conv1D} does, {@code [in, out]}: GPT-2 and the models built of its blocks
     * (by {@code model_type}, else the architecture's name).
     */
    public static boolean storesConv1d(ObjectNode config) {
        if (config == null) {
            return false;
        }
        String type = config.path("model_type").asText("");
        if (!type.isEmpty()) {
            return CONV1D_MODEL_TYPES.contains(type);
        }
        for (JsonNode a : config.path("architectures")) {
            if (a.asText().startsWith("GPT2") || a.asText().startsWith("OpenAIGPT")) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code module} is a model's output head ({@code lm_head}, GPT-NeoX's {@code embed_out}). */
    public static boolean isOutputHead(String module) {
        return HEADS.contains(lastName(module));
    }

    private static String lastName(String module) {
        return module.substring(module.lastIndexOf('.') + 1);
    }

    /**
     * Groups tensors into (A, B) per module and refuses everything that is neither a LoRA factor
     * (linear or embedding), nor a {@code lora_B} bias where {@code loraBias}, nor a tensor of a
     * module in {@code toSave}.
     */
    private static Map<String, String[]> pairTensors(Checkpoint w, String file, List<String> toSave,
            boolean loraBias) {
        Map<String, String[]> pairs = new LinkedHashMap<>();
        for (String name : w.tensorNames()) {
            if (name.contains("lora_magnitude_vector")) {
                throw new BadInputException(file + ": tensor '" + name
                        + "' is a DoRA magnitude; DoRA is not supported");
            }
            if (!name.startsWith(PEFT_PREFIX)) {
                throw new BadInputException(file + ": tensor '" + name
                        + "' does not start with the PEFT prefix '" + PEFT_PREFIX + "'");
            }
            int part = loraPart(name);
            if (name.endsWith(B_BIAS_SUFFIX)) {
                if (!loraBias) {
                    throw new BadInputException(file + ": tensor '" + name + "' is a lora_B bias, but the"
                            + " adapter config does not set lora_bias: true (PEFT would not load it)");
                }
                String module = name.substring(PEFT_PREFIX.length(), name.length() - B_BIAS_SUFFIX.length());
                if (!w.contains(PEFT_PREFIX + module + B_SUFFIX)) {
                    throw new BadInputException(file + ": tensor '" + name + "' is a lora_B bias of module '"
                            + module + "', which has no linear lora_B weight");
                }
                continue;
            }
            if (part < 0) {
                String tensor = name.substring(PEFT_PREFIX.length());
                int dot = tensor.lastIndexOf('.');
                String module = dot < 0 ? tensor : tensor.substring(0, dot);
                if (name.contains(".lora_") || !matchesAny(toSave, module)) {
                    throw new BadInputException(file + ": tensor '" + name + "' is not a LoRA factor"
                            + " (lora_A/lora_B weight, lora_embedding_A/B), and its module '" + module
                            + "' is not in modules_to_save " + toSave + " (LoRA biases are not supported)");
                }
                continue;
            }
            String module = name.substring(PEFT_PREFIX.length(), name.length() - SUFFIXES[part].length());
            String[] pair = pairs.computeIfAbsent(module, k -> new String[2]);
            if (pair[part % 2] != null) {
                throw new BadInputException(file + ": module '" + module + "' has both " + pair[part % 2]
                        + " and " + name);
            }
            pair[part % 2] = name;
        }
        for (Map.Entry<String, String[]> e : pairs.entrySet()) {
            String[] pair = e.getValue();
            if (pair[0] == null || pair[1] == null) {
                int present = loraPart(pair[0] == null ? pair[1] : pair[0]);
                throw new BadInputException(file + ": module '" + e.getKey() + "' has " + parameter(present)
                        + " but no " + parameter(present ^ 1));
            }
            if (loraPart(pair[0]) / 2 != loraPart(pair[1]) / 2) {
                throw new BadInputException(file + ": module '" + e.getKey() + "' mixes linear and embedding"
                        + " LoRA (" + pair[0] + ", " + pair[1] + ")");
            }
        }
        return pairs;
    }

    /** The parameter's name in PEFT's module, e.g. {@code lora_A}, {@code lora_embedding_B}. */
    private static String parameter(int part) {
        return SUFFIXES[part].substring(1).replace(".weight", "");
    }

    /** Which of {@link #SUFFIXES} ends {@code name}, or -1 for a tensor that is no LoRA factor. */
    private static int loraPart(String name) {
        for (int i = 0; i < SUFFIXES.length; i++) {
            if (name.endsWith(SUFFIXES[i])) {
                return i;
            }
        }
        return -1;
    }

    private static Module loadModule(Checkpoint w, String module, String[] ab, int r, double alpha,
                                     boolean rslora, boolean conv1d, Path file) {
        TensorInfo a = w.info(ab[0]);
        TensorInfo b = w.info(ab[1]);
        if (a.rank() != 2 || b.rank() != 2) {
            throw new BadInputException(file + ": module '" + module + "' has lora_A "
                    + Arrays.toString(a.shape()) + " and lora_B "
                    + Arrays.toString(b.shape())
                    + "; only 2-D (linear) LoRA is supported");
        }
        if (a.dim(0) != r || b.dim(1) != r) {
            throw new BadInputException(file + ": module '" + module + "' lora_A "
                    + Arrays.toString(a.shape()) + " / lora_B "
                    + Arrays.toString(b.shape()) + " do not have the configured rank " + r);
        }
        int in = Math.toIntExact(a.dim(1));
        int out = Math.toIntExact(b.dim(0));
        float[] av = w.readFloats(ab[0]);
        float[] bv = w.readFloats(ab[1]);
        float scale = (float) (rslora ? alpha / Math.sqrt(r) : alpha / r);
        // An embedding [vocab, dim] (A [r, vocab], B [dim, r]) is laid out as a Conv1D weight;
        // PEFT's embedding layer ignores fan_in_fan_out.
        if (!conv1d && loraPart(ab[0]) < 2) {
            return new Module(module, module + ".weight", r, alpha, scale, out, in, bv, av);
        }
        return new Module(module, module + ".weight", r, alpha, scale, in, out,
                Shapes.transpose(av, r, in), Shapes.transpose(bv, out, r));
    }

    /** The {@code lora_B} bias {@code name} of linear module {@code m}: one value per row of its lora_B. */
    private static BiasDelta loadBias(Checkpoint w, String name, Module m, Path file) {
        TensorInfo t = w.info(name);
        long out = w.info(PEFT_PREFIX + m.module() + B_SUFFIX).dim(0);
        if (t.rank() != 1 || t.dim(0) != out) {
            throw new BadInputException(file + ": tensor '" + name + "' is " + Arrays.toString(t.shape())
                    + "; a lora_B bias of module '" + m.module() + "' must be [" + out + "]");
        }
        return new BiasDelta(m.module(), m.module() + ".bias", m.scale(), w.readFloats(name));
    }

    private static List<String> modulesToSave(ObjectNode cfg, String where) {
        JsonNode n = cfg.get("modules_to_save");
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isArray()) {
            throw new BadInputException(where + ": 'modules_to_save' must be a list of module names");
        }
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw new BadInputException(where + ": modules_to_save entry " + e + " is not a string");
            }
            out.add(e.textValue());
        }
        return out;
    }

    /** Whether {@code module} is one of {@code names} or ends with {@code "." + name}. */
    private static boolean matchesAny(List<String> names, String module) {
        for (String t : names) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /** PEFT's {@code get_pattern_key}: the first key whose regex matches the module's tail. */
    private static double lookup(List<PatternValue> pattern, String module, double dflt) {
        for (PatternValue e : pattern) {
            if (e.tail().matcher(module).matches()) {
                return e.value();
            }
        }
        return dflt;
    }

    /** A {@code rank_pattern}/{@code alpha_pattern} entry: its key as PEFT matches it, {@code (.*\.)?(KEY)}. */
    private record PatternValue(Pattern tail, double value) {
    }

    /**
     * Whether PEFT adapts a module, decided as its {@code check_target_module_exists} decides it:
     * {@code exclude_modules} (a full-match regex, or names each the module or a dotted suffix of it)
     * and the modules of {@code modules_to_save} (and what is inside them) first; then
     * {@code target_modules}: a full-match regex; names, where a module equal to one is adapted
     * whatever its layer, and one that ends with a dotted name only in a layer of
     * {@code layers_to_transform}; or {@code all-linear}, the linear layers but the output head,
     * which PEFT expands to their last names (so layers count for it too).
     */
    private record Targeting(List<String> names, Pattern regex, List<String> excludeNames, Pattern excludeRegex,
                             List<String> saved, List<Integer> layers, List<Pattern> layerIndex, String display) {

        static Targeting parse(ObjectNode cfg, List<String> saved, String where) {
            JsonNode node = cfg.get("target_modules");
            if (node == null || node.isNull()) {
                throw new BadInputException(where + ": missing target_modules");
            }
            List<String> names = null;
            Pattern regex = null;
            if (node.isTextual()) {
                if (!node.textValue().equalsIgnoreCase("all-linear")) {
                    regex = regex(node.textValue(), "target_modules", where);
                }
            } else if (node.isArray()) {
                names = strings(node, "target_modules", where);
            } else {
                throw new BadInputException(where + ": target_modules must be a list or a string");
            }
            JsonNode ex = cfg.get("exclude_modules");
            List<String> excludeNames = List.of();
            Pattern excludeRegex = null;
            if (ex != null && ex.isTextual()) {
                excludeRegex = regex(ex.textValue(), "exclude_modules", where);
            } else if (ex != null && ex.isArray()) {
                excludeNames = strings(ex, "exclude_modules", where);
            } else if (ex != null && !ex.isNull()) {
                throw new BadInputException(where + ": exclude_modules must be a list or a string");
            }
            return new Targeting(names, regex, excludeNames, excludeRegex, saved, layers(cfg, where),
                    layerIndex(cfg, where), node.isTextual() ? "'" + node.textValue() + "'" : names.toString());
        }

        /** Why PEFT would not adapt {@code module} (a phrase naming the field), or null where it would. */
        String whyNot(String module, boolean embedding) {
            if (excludeRegex != null ? excludeRegex.matcher(module).matches() : matchesAny(excludeNames, module)) {
                return "it is excluded by exclude_modules";
            }
            for (String m : saved) {
                if (module.equals(m) || module.endsWith("." + m) || module.startsWith(m + ".")
                        || module.contains("." + m + ".")) {
                    return "modules_to_save " + saved + " keeps it (or the module it is in) whole";
                }
            }
            if (regex != null) {
                return regex.matcher(module).matches() ? null : "it is not in target_modules " + display;
            }
            if (names == null) {
                if (embedding || isOutputHead(module)) {
                    return "target_modules " + display + " adapts the linear layers but the output head";
                }
                if (!module.contains(".")) {
                    return null;
                }
            } else if (names.contains(module)) {
                return null;
            } else if (names.stream().noneMatch(n -> module.endsWith("." + n))) {
                return "it is not in target_modules " + display;
            }
            if (layers.isEmpty()) {
                return null;
            }
            for (Pattern p : layerIndex) {
                Matcher m = p.matcher(module);
                if (m.lookingAt()) {
                    int index = Integer.parseInt(m.group(1));
                    return layers.contains(index) ? null
                            : "its layer " + index + " is not in layers_to_transform " + layers;
                }
            }
            return "no layer index is found in its name for layers_to_transform " + layers;
        }

        private static Pattern regex(String text, String key, String where) {
            try {
                return Pattern.compile(text);
            } catch (PatternSyntaxException e) {
                throw new BadInputException(where + ": " + key + " '" + text + "' is not a valid regular expression");
            }
        }

        private static List<String> strings(JsonNode node, String key, String where) {
            List<String> out = new ArrayList<>();
            for (JsonNode n : node) {
                if (!n.isTextual()) {
                    throw new BadInputException(where + ": " + key + " entry " + n + " is not a string");
                }
                out.add(n.textValue());
            }
            return out;
        }

        /** {@code layers_to_transform}: one index or a list of them; none (or an empty list) filters nothing. */
        private static List<Integer> layers(ObjectNode cfg, String where) {
            JsonNode n = cfg.get("layers_to_transform");
            if (n == null || n.isNull()) {
                return List.of();
            }
            List<Integer> out = new ArrayList<>();
            for (JsonNode e : n.isArray() ? n : List.of(n)) {
                if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0) {
                    throw new BadInputException(where + ": layers_to_transform must be a layer index or a list of"
                            + " them (got " + n + ")");
                }
                out.add(e.intValue());
            }
            return out;
        }

        /**
         * Where a module's layer index is: after a {@code layers_pattern} name, or after any name
         * without one (PEFT's {@code .*\.[^.]*\.(\d+)\.}, matched from the start of the name).
         */
        private static List<Pattern> layerIndex(ObjectNode cfg, String where) {
            JsonNode n = cfg.get("layers_pattern");
            List<String> names = n == null || n.isNull() ? List.of()
                    : n.isTextual() ? (n.textValue().isEmpty() ? List.of() : List.of(n.textValue()))
                    : n.isArray() ? strings(n, "layers_pattern", where) : null;
            if (names == null) {
                throw new BadInputException(where + ": layers_pattern must be a string or a list of them");
            }
            if (names.isEmpty()) {
                return List.of(Pattern.compile(".*\\.[^.]*\\.(\\d+)\\."));
            }
            List<Pattern> out = new ArrayList<>();
            for (String name : names) {
                out.add(regex(".*\\." + name + "\\.(\\d+)\\.", "layers_pattern", where));
            }
            return out;
        }
    }

    private static String text(ObjectNode cfg, String key, String dflt, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isTextual()) {
            throw new BadInputException(where + ": '" + key + "' must be a string");
        }
        return n.textValue();
    }

    private static boolean bool(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw new BadInputException(where + ": '" + key + "' must be true or false");
        }
        return n.booleanValue();
    }

    private static int positiveInt(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() <= 0) {
            throw new BadInputException(where + ": '" + key + "' must be a positive integer");
        }
        return n.intValue();
    }

    private static double number(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        if (n == null || !n.isNumber()) {
            throw new BadInputException(where + ": '" + key + "' must be a number");
        }
        return n.doubleValue();
    }

    private static List<PatternValue> patternMap(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        List<PatternValue> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isObject()) {
            throw new BadInputException(where + ": '" + key + "' must be an object");
        }
        Iterator<Map.Entry<String, JsonNode>> it = n.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            boolean rank = key.equals("rank_pattern");
            if (!v.isNumber() || (rank && (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0))) {
                throw new BadInputException(where + ": " + key + " entry '" + e.getKey()
                        + "' must be a " + (rank ? "positive integer" : "number") + " (got " + v + ")");
            }
            Pattern tail;
            try {
                tail = Pattern.compile("(.*\\.)?(" + e.getKey() + ")");
            } catch (PatternSyntaxException ex) {
                throw new BadInputException(where + ": " + key + " key '" + e.getKey()
                        + "' is not a valid regular expression");
            }
            out.add(new PatternValue(tail, v.doubleValue()));
        }
        return out;
    }

    /** The adapter directory. */
    public String dir() {
        return dir;
    }

    /** Adapted modules keyed by the base tensor they change ({@code <module>.weight}). */
    public Map<String, Module> modules() {
        return byBaseTensor;
    }

    /** The {@code lora_B} biases, keyed by the base bias they change ({@code <module>.bias}). */
    public Map<String, BiasDelta> biases() {
        return biases;
    }

    /** Whole tensors from {@code modules_to_save}, keyed by the base tensor they replace. */
    public Map<String, Saved> saved() {
        return saved;
    }

    /** The adapter's weights file. */
    public ShardFile weightsFile() {
        return weightsFile;
    }

    /** The adapter's {@code adapter_config.json}, whose scales and layout the weights read with. */
    public ShardFile configFile() {
        return configFile;
    }
}
