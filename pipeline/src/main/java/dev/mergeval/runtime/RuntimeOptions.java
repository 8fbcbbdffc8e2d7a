package dev.mergeval.runtime;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.mergeval.common.BadInputException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How to run a model.
 *
 * @param device {@code cpu} or {@code cuda:N} (e.g. the GPU a Spark task was given)
 * @param threads intra-op threads for PyTorch on this call's thread; 0 keeps PyTorch's default
 * @param maxBatchSize most sequences per forward batch; larger requests are split
 */
public record RuntimeOptions(String device, int threads, int maxBatchSize) {

    public static final int DEFAULT_MAX_BATCH_SIZE = 16;

    private static final Pattern CUDA = Pattern.compile("cuda:(\\d+)");

    public RuntimeOptions {
        if (!device.equals("cpu") && !CUDA.matcher(device).matches()) {
            throw new BadInputException("device must be 'cpu' or 'cuda:N', got '" + device + "'");
        }
        if (threads < 0) {
            throw new BadInputException("threads must be >= 0, got " + threads);
        }
        if (maxBatchSize < 1) {
            throw new BadInputException("max batch size must be >= 1, got " + maxBatchSize);
        }
    }

    /** CPU, PyTorch's default threads, the default batch size. */
    public static RuntimeOptions cpu() {
        return new RuntimeOptions("cpu", 0, DEFAULT_MAX_BATCH_SIZE);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(device, n, maxBatchSize);
    }

    public RuntimeOptions withMaxBatchSize(int n) {
        return new RuntimeOptions(device, threads, n);
    }

    /** The DJL device. */
    public Device djlDevice() {
        Matcher m = CUDA.matcher(device);
        return m.matches() ? Device.gpu(Integer.parseInt(m.group(1))) : Device.cpu();
    }

    /** Compute dtype: F32 on CPU (F16 matmuls are ~17x slower there), F16 on a GPU. */
    public DataType computeType() {
        return device.equals("cpu") ? DataType.FLOAT32 : DataType.FLOAT16;
    }
}
