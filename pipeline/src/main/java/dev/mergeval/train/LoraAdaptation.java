package dev.mergeval.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.llama.TorchMemory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * LoRA on frozen weights: each targeted {@code W [out, in]} reads {@code W + s B A} with
 * {@code A [r, in]}, {@code B [out, r]}, {@code s = alpha / r}.
 *
 * <p>Initialization as PEFT's default: {@code B = 0} (training starts at the base model) and
 * {@code A} from {@code kaiming_uniform_(a = sqrt(5))}, i.e. uniform on
 * {@code (-1/sqrt(in), 1/sqrt(in))}; element {@code i} of {@code A} is
 * {@code (2 u - 1) / sqrt(in)} with {@code u = KeyedRandom.uniform(key, i)} and
 * {@code key = KeyedRandom.counterKey(seed, PEFT name of A, 0)}: a function of the seed and the
 * tensor's name only, whatever the order or the device.
 *
 * <p>SPF on a factor pair: with the step's factor changes {@code dB, dA}, the conflicting step
 * is replaced by {@code dB' = (I - U U^T) dB} and {@code dA' = dA (I - V V^T)}. Then the matrix
 * update {@code s[(B + dB')(A + dA') - B A] = s[dB' A + B dA' + dB' dA']} has no component
 * {@code U U^T X V V^T}, exactly (not only to first order): {@code U^T dB' = 0} kills the first and
 * last terms, {@code dA' V = 0} the middle one.
 */
public final class LoraAdaptation implements Adaptation {

    /** PEFT's prefix of adapter tensor names. */
    public static final String PEFT_PREFIX = "base_model.model.";

    private final Map<String, NDArray> params;
    private final LoraConfig config;
    private final float scale;
    /** Targeted weight name -> {A, B}. */
    private final Map<String, NDArray[]> factors = new LinkedHashMap<>();
    private final Map<String, NDArray> optimized = new TreeMap<>();

    /**
     * @param params every (frozen) parameter, float32, owned by one manager, which also owns the factors
     */
    public LoraAdaptation(Map<String, NDArray> params, LoraConfig config, long seed) {
        this.params = params;
        this.config = config;
        this.scale = config.scale();
        NDManager manager = params.values().iterator().next().getManager();
        for (Map.Entry<String, NDArray> e : new TreeMap<>(params).entrySet()) {
            String name = e.getKey();
            if (!config.targets(name) || e.getValue().getShape().dimension() != 2) {
                continue;
            }
            long out = e.getValue().getShape().get(0);
            long in = e.getValue().getShape().get(1);
            if (config.r() > Math.min(out, in)) {
                throw new BadInputException("--lora-r " + config.r() + " exceeds the smaller dimension of '" + name
                        + "' " + e.getValue().getShape());
            }
            String a = aName(name);
            float[] values = new float[Math.toIntExact(config.r() * in)];
            long key = KeyedRandom.counterKey(seed, a, 0);
            double bound = 1 / Math.sqrt(in);
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) ((2 * KeyedRandom.uniform(key, i) - 1) * bound);
            }
            NDArray aArr = TorchMemory.copy(manager, values, new Shape(config.r(), in));
            NDArray bArr = manager.zeros(new Shape(out, config.r()), DataType.FLOAT32, e.getValue().getDevice());
            factors.put(name, new NDArray[] {aArr, bArr});
            optimized.put(a, aArr);
            optimized.put(bName(name), bArr);
        }
        if (factors.isEmpty()) {
            throw new BadInputException("--target-modules " + config.targetModules() + " matches no 2-D weight of the model");
        }
    }

    /** PEFT's name of the A factor of weight {@code weight}. */
    public static String aName(String weight) {
        return PEFT_PREFIX + module(weight) + ".lora_A.weight";
    }

    /** PEFT's name of the B factor of weight {@code weight}. */
    public static String bName(String weight) {
        return PEFT_PREFIX + module(weight) + ".lora_B.weight";
    }

    private static String module(String weight) {
        return weight.substring(0, weight.length() - ".weight".length());
    }

    public LoraConfig config() {
        return config;
    }

    @Override
    public Map<String, NDArray> optimized() {
        return Collections.unmodifiableMap(optimized);
    }

    @Override
    public Map<String, NDArray> forwardParams(NDManager scope) {
        Map<String, NDArray> out = new LinkedHashMap<>(params);
        for (Map.Entry<String, NDArray[]> e : factors.entrySet()) {
            NDArray[] ab = e.getValue();
            out.put(e.getKey(), Owned.by(scope, ab[1].matMul(ab[0])).mul(TorchMemory.scalar(scope, scale))
                    .add(params.get(e.getKey())));
        }
        return out;
    }

    @Override
    public List<String> matrices() {
        return new ArrayList<>(factors.keySet());
    }

    @Override
    public Map<String, NDArray> snapshot(NDManager scope) {
        Map<String, NDArray> copies = new TreeMap<>();
        optimized.forEach((k, v) -> copies.put(k, Owned.by(scope, v.duplicate())));
        return copies;
    }

    @Override
    public NDArray matrixUpdate(String matrix, Map<String, NDArray> before, NDManager scope) {
        NDArray[] ab = factors.get(matrix);
        NDArray now = Owned.by(scope, ab[1].matMul(ab[0]));
        NDArray then = before.get(bName(matrix)).matMul(before.get(aName(matrix)));
        return now.sub(then).mul(scale);
    }

    @Override
    public void project(String matrix, Map<String, NDArray> before, NDArray u, NDArray v, NDManager scope) {
        NDArray[] ab = factors.get(matrix);
        NDArray dA = Owned.by(scope, ab[0].sub(before.get(aName(matrix))));
        NDArray dB = Owned.by(scope, ab[1].sub(before.get(bName(matrix))));
        ab[1].subi(Owned.by(scope, u.matMul(Owned.by(scope, u.transpose()).matMul(dB))));
        ab[0].subi(dA.matMul(v).matMul(Owned.by(scope, v.transpose())));
    }

    @Override
    public NDArray matrixGradient(String matrix, NDManager scope) {
        return null;
    }

    /** The trained factors by PEFT name ({@code ...lora_A.weight [r, in]}, {@code ...lora_B.weight [out, r]}). */
    public Map<String, NDArray> factorsByPeftName() {
        return optimized();
    }
}
