package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** The real stories260K checkpoint, read through the Hadoop local filesystem. */
class Stories260KReadTest {

    @Test
    void tensorNamesAndShapesFollowConfig() {
        Path dir = SharedFiles.stories260K();
        try (Checkpoint ck = Checkpoint.open(dir.toString(), new Configuration())) {
            ObjectNode cfg = ck.config();
            int hidden = cfg.get("hidden_size").asInt();
            int inter = cfg.get("intermediate_size").asInt();
            int layers = cfg.get("num_hidden_layers").asInt();
            int vocab = cfg.get("vocab_size").asInt();
            int kv = cfg.get("num_key_value_heads").asInt() * cfg.get("head_dim").asInt();
            Map<String, long[]> want = new LinkedHashMap<>();
            want.put("model.embed_tokens.weight", new long[] {vocab, hidden});
            for (int i = 0; i < layers; i++) {
                String p = "model.layers." + i + ".";
                want.put(p + "input_layernorm.weight", new long[] {hidden});
                want.put(p + "self_attn.q_proj.weight", new long[] {hidden, hidden});
                want.put(p + "self_attn.k_proj.weight", new long[] {kv, hidden});
                want.put(p + "self_attn.v_proj.weight", new long[] {kv, hidden});
                want.put(p + "self_attn.o_proj.weight", new long[] {hidden, hidden});
                want.put(p + "post_attention_layernorm.weight", new long[] {hidden});
                want.put(p + "mlp.gate_proj.weight", new long[] {inter, hidden});
                want.put(p + "mlp.up_proj.weight", new long[] {inter, hidden});
                want.put(p + "mlp.down_proj.weight", new long[] {hidden, inter});
            }
            want.put("model.norm.weight", new long[] {hidden});
            assertEquals(want.keySet(), new java.util.HashSet<>(ck.tensorNames()));
            for (Map.Entry<String, long[]> e : want.entrySet()) {
                TensorInfo t = ck.info(e.getKey());
                assertArrayEquals(e.getValue(), t.shape(), e.getKey());
                assertEquals(DType.F32, t.dtype());
            }
            assertEquals("pt", ck.metadata().get("format"));
            assertEquals(1, ck.shardFiles().size());
            List<Long> begins = new ArrayList<>();
            for (String n : ck.tensorNames()) {
                begins.add(ck.info(n).begin());
            }
            List<Long> sorted = new ArrayList<>(begins);
            sorted.sort(null);
            assertEquals(sorted, begins, "names are in offset order");
            BadInputException e = assertThrows(BadInputException.class, () -> ck.info("lm_head.weight"));
            assertTrue(e.getMessage().contains("lm_head.weight"));
        }
    }

    @Test
    void valuesMatchAnIndependentReadAndRangesMatchTheWhole() throws Exception {
        Path dir = SharedFiles.stories260K();
        Path file = dir.resolve("model.safetensors");
        try (Checkpoint ck = Checkpoint.open("file://" + file.toAbsolutePath(), new Configuration());
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            assertEquals("file:" + dir.toAbsolutePath(), ck.root().replace("file:///", "file:/"));
            String name = "model.layers.3.mlp.down_proj.weight";
            TensorInfo t = ck.info(name);
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(len, 0);
            long dataStart = 8 + len.getLong(0);
            ByteBuffer raw = ByteBuffer.allocate((int) t.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(raw, dataStart + t.begin());
            float[] all = ck.readFloats(name);
            assertEquals(t.numElements(), all.length);
            for (int i = 0; i < all.length; i++) {
                assertEquals(raw.getFloat(i * 4), all[i], "element " + i);
            }
            float[] part = ck.readFloats(name, 1000, 333);
            for (int i = 0; i < part.length; i++) {
                assertEquals(all[1000 + i], part[i]);
            }
            byte[] rawPart = ck.readRaw(name, 8, 16);
            for (int i = 0; i < 16; i++) {
                assertEquals(raw.get(8 + i), rawPart[i]);
            }
            assertThrows(IndexOutOfBoundsException.class,
                    () -> ck.readFloats(name, all.length - 2, 3));
        }
    }
}
