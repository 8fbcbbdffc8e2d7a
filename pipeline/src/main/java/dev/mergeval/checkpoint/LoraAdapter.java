package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A PEFT LoRA adapter: {@code adapter_config.json} plus {@code adapter_model.safetensors}, loaded
 * into memory (A and B are small: rank x dimension).
 *
 * <p>For a linear module with weight {@code W [out, in]} PEFT stores
 * {@code base_model.model.<module>.lora_A.weight [r, in]} and {@code ...lora_B.weight [out, r]};
 * the merged weight is {@code W + scale * (B @ A)}, transposed when {@code fan_in_fan_out} is set
 * (GPT-2 style Conv1D weights stored as {@code [in, out]}). The scale is
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

    private LoraAdapter(String dir, Map<String, Module> byBaseTensor, Map<String, Saved> saved,
                        Map<String, BiasDelta> biases, ShardFile weightsFile) {
        this.dir = dir;
        this.byBaseTensor = Collections.unmodifiableMap(byBaseTensor);
        this.saved = Collections.unmodifiableMap(saved);
        this.biases = Collections.unmodifiableMap(biases);
        this.weightsFile = weightsFile;
    }

    /** Loads and validates the adapter in directory {@code dirUri}. */
    public static LoraAdapter load(String dirUri, Configuration conf) {
        Path dir = new Path(dirUri);
        FileSystem fs = HadoopFs.get(dir, conf);
        dir = fs.makeQualified(dir);
        Path cfgPath = new Path(dir, CheckpointResolver.ADAPTER_CONFIG);
        ObjectNode cfg = Json.readObject(fs, cfgPath, CheckpointResolver.MAX_JSON_BYTES);
        String where = cfgPath.toString();
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
        Map<String, Double> rankPattern = patternMap(cfg, "rank_pattern", where);
        Map<String, Double> alphaPattern = patternMap(cfg, "alpha_pattern", where);
        TargetModules targets = TargetModules.parse(cfg.get("target_modules"), where);
        List<String> toSave = modulesToSave(cfg, where);

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
            for (Map.Entry<String, String[]> e : pairs.entrySet()) {
                String module = e.getKey();
                if (!targets.matches(module)) {
                    throw new BadInputException(weights + ": module '" + module
                            + "' has LoRA weights but is not in target_modules " + targets);
                }
                int rr = (int) lookup(rankPattern, module, r);
                double aa = lookup(alphaPattern, module, alpha);
                Module m = loadModule(w, module, e.getValue(), rr, aa, rslora, fanInFanOut, weights);
                modules.put(module + ".weight", m);
                String biasName = PEFT_PREFIX + module + B_BIAS_SUFFIX;
                if (w.contains(biasName)) {
                    biases.put(module + ".bias", loadBias(w, biasName, m, weights));
                }
            }
            return new LoraAdapter(dir.toString(), modules, saved, biases, w.shardFiles().get(0));
        }
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
                                     boolean rslora, boolean fanInFanOut, Path file) {
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
        // An embedding [vocab, dim] (A [r, vocab], B [dim, r]) is laid out as a fan_in_fan_out weight;
        // PEFT's embedding layer ignores fan_in_fan_out.
        if (!fanInFanOut && loraPart(ab[0]) < 2) {
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
    private static double lookup(Map<String, Double> pattern, String module, double dflt) {
        for (Map.Entry<String, Double> e : pattern.entrySet()) {
            Pattern p;
            try {
                p = Pattern.compile("(.*\\.)?(" + e.getKey() + ")");
            } catch (PatternSyntaxException ex) {
                throw new BadInputException("adapter pattern key '" + e.getKey()
                        + "' is not a valid regular expression");
            }
            if (p.matcher(module).matches()) {
                return e.getValue();
            }
        }
        return dflt;
    }

    /** Which modules the adapter declares: a list (exact or dotted suffix) or a full-match regex. */
    private record TargetModules(List<String> names, Pattern regex) {
        static TargetModules parse(JsonNode node, String where) {
            if (node == null || node.isNull()) {
                throw new BadInputException(where + ": missing target_modules");
            }
            if (node.isTextual()) {
                if (node.textValue().equals("all-linear")) {
                    return new TargetModules(null, null);
                }
                try {
                    return new TargetModules(null, Pattern.compile(node.textValue()));
                } catch (PatternSyntaxException e) {
                    throw new BadInputException(where + ": target_modules '" + node.textValue()
                            + "' is not a valid regular expression");
                }
            }
            if (node.isArray()) {
                List<String> names = new ArrayList<>();
                for (JsonNode n : node) {
                    if (!n.isTextual()) {
                        throw new BadInputException(where + ": target_modules entry " + n
                                + " is not a string");
                    }
                    names.add(n.textValue());
                }
                return new TargetModules(names, null);
            }
            throw new BadInputException(where + ": target_modules must be a list or a string");
        }

        boolean matches(String module) {
            if (regex != null) {
                return regex.matcher(module).matches();
            }
            return names == null || matchesAny(names, module);
        }

        @Override
        public String toString() {
            return regex != null ? "'" + regex.pattern() + "'" : names == null ? "all-linear"
                    : names.toString();
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

    private static Map<String, Double> patternMap(ObjectNode cfg, String key, String where) {
        JsonNode n = cfg.get(key);
        Map<String, Double> out = new LinkedHashMap<>();
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
            if (!v.isNumber() || (rank && (!v.isIntegralNumber() || v.intValue() <= 0))) {
                throw new BadInputException(where + ": " + key + " entry '" + e.getKey()
                        + "' must be a " + (rank ? "positive integer" : "number"));
            }
            out.put(e.getKey(), v.doubleValue());
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
}
