package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;

/**
 * A base checkpoint seen through a LoRA adapter: every adapted weight reads as
 * {@code W + scale * (B @ A)} (see {@link LoraAdapter}), computed on read for just the requested
 * elements; all other tensors read from the base unchanged.
 *
 * <p>Rounding follows PEFT's {@code merge_and_unload}, which is what mergekit runs for
 * {@code base+adapter}: the delta is computed in float32 (dot products, then times the scale), as
 * PEFT computes it from adapter weights it holds in float32 (it upcasts half-precision ones when it
 * loads them), and added to the weight in float32; for an F16/BF16 base the sum is rounded once to
 * that dtype, as PyTorch's in-place {@code weight += delta} of a float32 delta into a half-precision
 * weight does (measured: the same bits as rounding the float32 sum, not as adding the delta
 * rounded first). For F32/F64 bases the float32 sum is returned. Only the order of the float32
 * dot-product accumulation (ascending rank index here) can differ from PyTorch's matmul. A tensor saved whole ({@code modules_to_save}) reads in place of the
 * base tensor, rounded to the base tensor's dtype as PEFT's copy into the module's parameter does.
 * A module's {@code lora_B} bias ({@code lora_bias}) is added to the base bias in float32 and the
 * sum rounded once, as PEFT's merge of it does.
 */
public final class LoraCheckpoint extends ForwardingCheckpoint {

    private final String location;
    private final LoraAdapter adapter;

    private LoraCheckpoint(String location, Checkpoint base, LoraAdapter adapter) {
        super(base);
        this.location = location;
        this.adapter = adapter;
    }

    /**
     * Applies the adapter in {@code adapterDir} to {@code base} (which the result then owns and
     * closes), after checking that every adapted module exists in the base with a matching shape.
     */
    public static LoraCheckpoint open(String location, Checkpoint base, String adapterDir,
                                      Configuration conf) {
        // Without the base's config.json its layer types are unknown: the adapter's fan_in_fan_out decides.
        LoraAdapter adapter = LoraAdapter.load(adapterDir, conf,
                base.config() == null ? null : LoraAdapter.storesConv1d(base.config()));
        for (LoraAdapter.Module m : adapter.modules().values()) {
            if (!base.contains(m.baseTensor())) {
                throw new BadInputException(adapter.weightsFile().path() + ": module '" + m.module()
                        + "' needs base tensor '" + m.baseTensor() + "', which " + base.location()
                        + " does not have");
            }
            TensorInfo w = base.info(m.baseTensor());
            long[] want = {m.rows(), m.cols()};
            if (!Arrays.equals(w.shape(), want)) {
                throw new BadInputException(adapter.weightsFile().path() + ": module '" + m.module()
                        + "' makes a delta of shape " + Arrays.toString(want) + " but base tensor '"
                        + m.baseTensor() + "' is " + Arrays.toString(w.shape())
                        + " (check that the adapter belongs to this base)");
            }
            if (!w.dtype().isCodecSupported()) {
                throw new BadInputException(base.location() + ": base tensor '" + m.baseTensor()
                        + "' is " + w.dtype() + ", which LoRA cannot be applied to");
            }
        }
        for (LoraAdapter.BiasDelta b : adapter.biases().values()) {
            if (!base.contains(b.baseTensor())) {
                throw new BadInputException(adapter.weightsFile().path() + ": module '" + b.module()
                        + "' has a lora_B bias, but " + base.location() + " has no bias '" + b.baseTensor()
                        + "' to add it to");
            }
            TensorInfo t = base.info(b.baseTensor());
            if (t.rank() != 1 || t.dim(0) != b.values().length || !t.dtype().isCodecSupported()) {
                throw new BadInputException(adapter.weightsFile().path() + ": module '" + b.module()
                        + "' has a lora_B bias of " + b.values().length + " values, but base tensor '"
                        + b.baseTensor() + "' is " + t.dtype() + " " + Arrays.toString(t.shape()));
            }
        }
        for (LoraAdapter.Saved t : adapter.saved().values()) {
            if (!base.contains(t.tensor())) {
                throw new BadInputException(adapter.weightsFile().path() + ": modules_to_save tensor '"
                        + t.tensor() + "' is not in " + base.location());
            }
            TensorInfo w = base.info(t.tensor());
            if (!Arrays.equals(w.shape(), t.shape()) || !w.dtype().isCodecSupported()) {
                throw new BadInputException(adapter.weightsFile().path() + ": modules_to_save tensor '"
                        + t.tensor() + "' is " + Arrays.toString(t.shape()) + " but the base tensor is "
                        + w.dtype() + " " + Arrays.toString(w.shape()));
            }
        }
        return new LoraCheckpoint(location, base, adapter);
    }

    /** The same adapter, already read, over the base reopened. */
    @Override
    public Checkpoint reopen() {
        return new LoraCheckpoint(location, model.reopen(), adapter);
    }

    /** The adapter applied on read. */
    public LoraAdapter adapter() {
        return adapter;
    }

    /** The underlying base checkpoint. */
    public Checkpoint base() {
        return model;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count) {
        LoraAdapter.Saved saved = adapter.saved().get(name);
        if (saved != null) {
            Objects.checkFromIndexSize(elementOffset, count, saved.values().length);
            DType dt = model.info(name).dtype();
            boolean half = dt == DType.F16 || dt == DType.BF16;
            for (int j = 0; j < count; j++) {
                float v = saved.values()[(int) elementOffset + j];
                dst[dstOff + j] = half ? round(dt, v) : v;
            }
            return;
        }
        model.readFloats(name, elementOffset, dst, dstOff, count);
        LoraAdapter.BiasDelta bias = adapter.biases().get(name);
        if (bias != null) {
            Objects.checkFromIndexSize(elementOffset, count, bias.values().length);
            DType dt = model.info(name).dtype();
            boolean half = dt == DType.F16 || dt == DType.BF16;
            for (int j = 0; j < count; j++) {
                float v = dst[dstOff + j] + bias.values()[(int) elementOffset + j] * bias.scale();
                dst[dstOff + j] = half ? round(dt, v) : v;
            }
            return;
        }
        LoraAdapter.Module m = adapter.modules().get(name);
        if (m == null || count == 0) {
            return;
        }
        DType dt = model.info(name).dtype();
        boolean half = dt == DType.F16 || dt == DType.BF16;
        int cols = m.cols();
        int r = m.rank();
        float[] left = m.left();
        float[] right = m.right();
        float[] delta = new float[Math.min(cols, count)];
        long end = elementOffset + count;
        for (long e = elementOffset; e < end; ) {
            int row = (int) (e / cols);
            int c0 = (int) (e % cols);
            int c1 = (int) Math.min(cols, c0 + (end - e));
            int n = c1 - c0;
            Arrays.fill(delta, 0, n, 0f);
            for (int k = 0; k < r; k++) {
                float l = left[row * r + k];
                int rk = k * cols + c0;
                for (int j = 0; j < n; j++) {
                    delta[j] += l * right[rk + j];
                }
            }
            int out = dstOff + (int) (e - elementOffset);
            for (int j = 0; j < n; j++) {
                float sum = dst[out + j] + delta[j] * m.scale();
                dst[out + j] = half ? round(dt, sum) : sum;
            }
            e += n;
        }
    }

    private static float round(DType dt, float v) {
        return dt == DType.BF16 ? TensorCodec.bf16ToFloat(TensorCodec.floatToBf16(v))
                : TensorCodec.f16ToFloat(TensorCodec.floatToF16(v));
    }

    /**
     * Raw bytes; for an adapted tensor the effective weight is encoded in the base dtype, so the
     * range must cover whole elements.
     */
    @Override
    public byte[] readRaw(String name, long byteOffset, int length) {
        if (!adapted(name)) {
            return model.readRaw(name, byteOffset, length);
        }
        TensorInfo t = model.info(name);
        Objects.checkFromIndexSize(byteOffset, length, t.byteLength());
        int es = t.dtype().byteSize();
        if (byteOffset % es != 0 || length % es != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' is changed by the adapter;"
                    + " raw reads must cover whole " + es + "-byte elements");
        }
        float[] v = readFloats(name, byteOffset / es, length / es);
        ByteBuffer out = ByteBuffer.allocate(length);
        TensorCodec.encode(t.dtype(), v, 0, v.length, out);
        return out.array();
    }

    /** Whether the adapter changes tensor {@code name} (a LoRA pair, a saved module or a bias delta). */
    private boolean adapted(String name) {
        return adapter.modules().containsKey(name) || adapter.saved().containsKey(name)
                || adapter.biases().containsKey(name);
    }

    /** As {@link Checkpoint#readStored}: the adapter's tensors are encoded by {@link #readRaw}. */
    @Override
    public void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        if (!adapted(name)) {
            model.readStored(name, byteOffset, dst, dstOff, length);
            return;
        }
        System.arraycopy(readRaw(name, byteOffset, length), 0, dst, dstOff, length);
    }

    @Override
    public List<ShardFile> shardFiles() {
        List<ShardFile> files = new ArrayList<>(model.shardFiles());
        files.add(adapter.weightsFile());
        files.add(adapter.configFile());
        return files;
    }
}
