package dev.mergeval.runtime;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/** Locates {@code ../shared} test inputs and reads small F32 safetensors files for oracles. */
public final class TestModels {

    private TestModels() {
    }

    /** The {@code shared} directory beside the repository root, or null. */
    public static Path sharedDir() {
        for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("models"))) {
                return candidate;
            }
        }
        return null;
    }

    /** {@code shared/models/stories260K}, or skips the test with a message when absent. */
    public static Path stories260K() {
        Path shared = sharedDir();
        assumeTrue(shared != null && Files.isDirectory(shared.resolve("models/stories260K")),
                "../shared/models/stories260K not found: skipping test that needs the real model");
        return shared.resolve("models/stories260K");
    }

    /** An F32 tensor read by the test oracle: its shape and values. */
    public record Tensor(long[] shape, float[] data) {
    }

    /** Reads every F32 tensor of a single safetensors file (test oracle only; no checks beyond F32). */
    public static Map<String, Tensor> readF32(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = (int) buf.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, headerLen, java.nio.charset.StandardCharsets.UTF_8));
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            if (!t.get("dtype").asText().equals("F32")) {
                throw new IOException("test oracle reads F32 only: " + e.getKey());
            }
            long[] shape = new long[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.get("shape").get(i).asLong();
            }
            long begin = t.get("data_offsets").get(0).asLong();
            long end = t.get("data_offsets").get(1).asLong();
            float[] data = new float[(int) ((end - begin) / 4)];
            buf.position((int) (8 + headerLen + begin));
            buf.asFloatBuffer().get(data);
            out.put(e.getKey(), new Tensor(shape, data));
        }
        return out;
    }
}
