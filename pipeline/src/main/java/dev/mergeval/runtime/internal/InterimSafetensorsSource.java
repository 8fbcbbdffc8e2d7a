package dev.mergeval.runtime.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ModelDirectory;
import dev.mergeval.runtime.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A single-file {@code model.safetensors} read whole into memory (F32, F16, BF16). Interim: to be
 * replaced by {@code dev.mergeval.checkpoint.Checkpoint} once that lands.
 */
public final class InterimSafetensorsSource implements TensorSource {

    private record Entry(String dtype, long[] shape, int begin, int end) {
    }

    private final String location;
    private final ByteBuffer data;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public InterimSafetensorsSource(ModelDirectory dir) {
        this.location = dir.resolve("model.safetensors");
        byte[] bytes = dir.readBytes("model.safetensors");
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = bytes.length >= 8 ? buf.getLong(0) : -1;
        if (headerLen < 2 || headerLen > bytes.length - 8) {
            throw new BadInputException(location + ": bad safetensors header length " + headerLen);
        }
        JsonNode header;
        try {
            header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new BadInputException(location + ": safetensors header is not valid JSON", e);
        }
        int dataStart = 8 + (int) headerLen;
        int dataLen = bytes.length - dataStart;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            String dtype = t.path("dtype").asText();
            int width = switch (dtype) {
                case "F32" -> 4;
                case "F16", "BF16" -> 2;
                default -> throw new BadInputException(location + ": tensor '" + e.getKey() + "' has unsupported dtype " + dtype);
            };
            long[] shape = new long[t.path("shape").size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.path("shape").get(i).asLong();
                count *= shape[i];
            }
            long begin = t.path("data_offsets").path(0).asLong(-1);
            long end = t.path("data_offsets").path(1).asLong(-1);
            if (begin < 0 || end > dataLen || end - begin != count * width) {
                throw new BadInputException(location + ": tensor '" + e.getKey() + "' has data_offsets ["
                        + begin + ", " + end + ") that do not fit its shape or the file");
            }
            entries.put(e.getKey(), new Entry(dtype, shape, dataStart + (int) begin, dataStart + (int) end));
        }
        this.data = buf;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    @Override
    public long[] shape(String name) {
        return entries.get(name).shape().clone();
    }

    @Override
    public float[] readFloats(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new BadInputException(location + ": missing tensor '" + name + "'");
        }
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.position(e.begin()).limit(e.end());
        b = b.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (e.dtype()) {
            case "F32" -> {
                float[] out = new float[(e.end() - e.begin()) / 4];
                b.asFloatBuffer().get(out);
                return out;
            }
            case "F16" -> {
                float[] out = new float[(e.end() - e.begin()) / 2];
                for (int i = 0; i < out.length; i++) {
                    out[i] = halfToFloat(b.getShort(2 * i));
                }
                return out;
            }
            default -> {
                float[] out = new float[(e.end() - e.begin()) / 2];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                }
                return out;
            }
        }
    }

    /** IEEE 754 binary16 to float32 (exact). */
    private static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    @Override
    public void close() {
        // nothing: the bytes are on the heap
    }
}
