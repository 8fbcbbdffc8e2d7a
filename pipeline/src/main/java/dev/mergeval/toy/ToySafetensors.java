package dev.mergeval.toy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The small F32 safetensors files of the toy models, read and written whole (a few MB at most).
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code name -> {dtype, shape, data_offsets}}), then the tensor bytes.
 */
final class ToySafetensors {

    /** A tensor's shape and its values, row-major. */
    record Tensor(long[] shape, float[] values) {
    }

    private ToySafetensors() {
    }

    /** Reads every tensor of an F32 safetensors file, checking each size and offset first. */
    static Map<String, Tensor> read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        if (bytes.length < 8) {
            throw new BadInputException(file + ": too short for a safetensors header");
        }
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength <= 0 || headerLength > bytes.length - 8) {
            throw new BadInputException(file + ": header length " + headerLength + " exceeds the file");
        }
        int dataStart = 8 + (int) headerLength;
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        Map<String, Tensor> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            String name = e.getKey();
            JsonNode info = e.getValue();
            if (!"F32".equals(info.path("dtype").asText())) {
                throw new BadInputException(file + ": tensor '" + name + "' has dtype "
                        + info.path("dtype").asText() + ", only F32 is supported here");
            }
            JsonNode shapeNode = info.path("shape");
            long[] shape = new long[shapeNode.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong(-1);
                if (shape[i] < 0) {
                    throw new BadInputException(file + ": tensor '" + name + "' has a negative dimension");
                }
                count = Math.multiplyExact(count, shape[i]);
            }
            long begin = info.path("data_offsets").path(0).asLong(-1);
            long end = info.path("data_offsets").path(1).asLong(-1);
            if (begin < 0 || end < begin || end > bytes.length - dataStart || end - begin != count * 4) {
                throw new BadInputException(file + ": tensor '" + name + "' has data_offsets [" + begin + ", "
                        + end + "] that do not fit its shape or the file");
            }
            float[] values = new float[(int) count];
            ByteBuffer.wrap(bytes, dataStart + (int) begin, (int) (end - begin))
                    .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            out.put(name, new Tensor(shape, values));
        }
        return out;
    }

    /** Writes tensors (sorted by name) as F32 with the given metadata. */
    static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        metadata.forEach(meta::put);
        long offset = 0;
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            ObjectNode info = header.putObject(e.getKey());
            info.put("dtype", "F32");
            for (long d : e.getValue().shape()) {
                info.withArray("shape").add(d);
            }
            long size = 4L * e.getValue().values().length;
            info.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
        }
        byte[] headerBytes = json.writeValueAsBytes(header);
        // pad the header with spaces so the data starts 8-byte aligned, as the reference writer does
        int padded = (headerBytes.length + 7) / 8 * 8;
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(headerBytes);
            for (int i = headerBytes.length; i < padded; i++) {
                out.write(' ');
            }
            for (Tensor t : sorted.values()) {
                ByteBuffer buf = ByteBuffer.allocate(4 * t.values().length).order(ByteOrder.LITTLE_ENDIAN);
                buf.asFloatBuffer().put(t.values());
                out.write(buf.array());
            }
        }
    }
}
