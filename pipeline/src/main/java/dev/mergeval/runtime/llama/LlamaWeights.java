package dev.mergeval.runtime.llama;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.TensorSource;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads a Llama-family checkpoint's parameters into DJL arrays after checking every name and
 * shape against the config. Tensors arrive as float32 (BF16 and F16 are decoded in Java: DJL's
 * PyTorch binding aborts the JVM on BF16), go into libtorch-owned memory, and are then moved to
 * the device and cast to the compute dtype.
 */
public final class LlamaWeights {

    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\..*");

    private LlamaWeights() {
    }

    /**
     * Checks that {@code source} holds exactly the tensors {@code config} implies (extra layers
     * and missing or mis-shaped tensors are errors naming the tensor), without reading data.
     */
    public static void validate(LlamaConfig config, TensorSource source) {
        Map<String, long[]> expected = LlamaLayout.expectedShapes(config);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            if (!source.names().contains(e.getKey())) {
                throw new BadInputException(source.location() + ": missing tensor '" + e.getKey()
                        + "' that config.json implies");
            }
            long[] actual = source.shape(e.getKey());
            if (!Arrays.equals(actual, e.getValue())) {
                throw new BadInputException(source.location() + ": tensor '" + e.getKey() + "' has shape "
                        + Arrays.toString(actual) + " but config.json implies " + Arrays.toString(e.getValue()));
            }
        }
        for (String name : source.names()) {
            Matcher m = LAYER.matcher(name);
            if (m.matches() && Integer.parseInt(m.group(1)) >= config.numHiddenLayers()) {
                throw new BadInputException(source.location() + ": tensor '" + name
                        + "' is beyond config.json's num_hidden_layers " + config.numHiddenLayers());
            }
        }
    }

    /**
     * Validates, then reads every tensor the forward pass needs into arrays owned by
     * {@code manager}, on {@code device}, in {@code dtype} (FLOAT32 or FLOAT16).
     */
    public static Map<String, NDArray> load(
            LlamaConfig config, TensorSource source, NDManager manager, Device device, DataType dtype) {
        validate(config, source);
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : LlamaLayout.expectedShapes(config).entrySet()) {
            float[] values = source.readFloats(e.getKey());
            requireFinite(values, e.getKey(), source);
            params.put(e.getKey(), toArray(values, e.getValue(), manager, device, dtype));
        }
        return params;
    }

    /** A NaN or infinite weight turns every logit it reaches into NaN: refused, naming where it is. */
    private static void requireFinite(float[] values, String name, TensorSource source) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new BadInputException(source.location() + ": tensor '" + name + "' holds " + values[i]
                        + " at element " + i + " (mergeval inspect --verify lists every such tensor)");
            }
        }
    }

    /**
     * One tensor, then to the device and dtype. On the CPU in F32 its data stays in the direct
     * buffer the returned array holds, alive as long as the array's manager (the model's).
     */
    static NDArray toArray(float[] values, long[] shape, NDManager manager, Device device, DataType dtype) {
        NDArray cpu = manager.create(new Shape(shape), DataType.FLOAT32, Device.cpu());
        ByteBuffer bytes = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder());
        bytes.asFloatBuffer().put(values);
        cpu.set(bytes);
        NDArray out = cpu;
        if (!device.equals(Device.cpu())) {
            out = out.toDevice(device, false);
        }
        if (dtype != DataType.FLOAT32) {
            out = out.toType(dtype, false);
        }
        if (out != cpu) {
            cpu.close();
        }
        return out;
    }
}
