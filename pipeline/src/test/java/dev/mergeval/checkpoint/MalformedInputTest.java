package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A corpus of malformed inputs, generated here; each must fail with a message naming the culprit. */
class MalformedInputTest {

    @TempDir
    java.nio.file.Path tmp;

    private final Configuration conf = new Configuration();

    private static byte[] file(long declaredHeaderLength, String json, int dataBytes) {
        byte[] j = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + j.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredHeaderLength).put(j);
        return b.array();
    }

    private static byte[] file(String json, int dataBytes) {
        return file(json.getBytes(StandardCharsets.UTF_8).length, json, dataBytes);
    }

    private java.nio.file.Path put(String name, byte[] bytes) throws IOException {
        java.nio.file.Path p = tmp.resolve(name);
        Files.createDirectories(p.getParent());
        Files.write(p, bytes);
        return p;
    }

    private void rejected(java.nio.file.Path location, String... mentions) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoint.open(location.toString(), conf).close(), location.toString());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "message '" + e.getMessage() + "' names " + m);
        }
        assertTrue(!e.getMessage().contains("\n"), "one-line message");
    }

    private java.nio.file.Path single(String name, byte[] bytes) throws IOException {
        return put(name + ".safetensors", bytes);
    }

    @Test
    void headerLevelCorruption() throws IOException {
        rejected(single("tiny", new byte[] {1, 2, 3}), "tiny.safetensors", "too short");
        rejected(single("truncated", file(500, "{\"a\":", 0)), "truncated.safetensors", "past the end");
        rejected(single("huge", file(1L << 40, "{}", 0)), "huge.safetensors", "cap");
        rejected(single("u64max", file(-1L, "{}", 0)), "u64max.safetensors", "cap");
        rejected(single("invalid", file("{\"a\": [1, 2}", 0)), "invalid.safetensors", "JSON");
        rejected(single("notobject", file("[1, 2, 3]   ", 0)), "notobject.safetensors", "object");
        rejected(single("dup", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)),
                "dup.safetensors", "w");
        rejected(single("meta", file("{\"__metadata__\":{\"k\":1}}", 0)), "meta.safetensors", "k");
        rejected(single("metadup", file("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0)),
                "metadup.safetensors", "Duplicate field 'k'");
        rejected(single("fielddup", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"dtype\":\"F16\","
                + "\"data_offsets\":[0,4]}}", 4)), "fielddup.safetensors", "Duplicate field 'dtype'");
        byte[] latin1 = file("{\"w\u00e9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        // The name's UTF-8 "é" (C3 A9) made a lone Latin-1 byte E9: not UTF-8.
        byte[] broken = new byte[latin1.length - 1];
        int at = indexOf(latin1, (byte) 0xC3);
        System.arraycopy(latin1, 0, broken, 0, at);
        broken[at] = (byte) 0xE9;
        System.arraycopy(latin1, at + 2, broken, at + 1, latin1.length - at - 2);
        ByteBuffer.wrap(broken).order(ByteOrder.LITTLE_ENDIAN).putLong(0, latin1.length - 8 - 4 - 1);
        rejected(single("latin1", broken), "latin1.safetensors", "UTF-8");
        // The reference reader (serde_json::from_str) takes one object and whitespace around it.
        String entry = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        rejected(single("second", file(entry + "{}", 4)), "second.safetensors", "after the header's object");
        rejected(single("junk", file(entry + "xy", 4)), "junk.safetensors", "not valid JSON");
        rejected(single("nul", file(entry + "\0\0", 4)), "nul.safetensors", "not valid JSON");
        rejected(single("surrogate", file("{\"w\\udc80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                4)), "surrogate.safetensors", "'w' is followed by a lone surrogate");
        rejected(single("metasurrogate", file("{\"__metadata__\":{\"k\":\"\\ud800\"}}", 0)),
                "metasurrogate.safetensors", "lone surrogate");
    }

    /** What the reference reader opens opens here: padding, null metadata, a surrogate pair, unsigned ints. */
    @Test
    void whatTheReferenceReaderAcceptsIsAccepted() throws IOException {
        String json = "{\"__metadata__\":null,\"u\\ud83d\\ude00\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"v\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                + "\"x\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[8,16]}}  \n\t";
        try (Checkpoint c = Checkpoint.open(single("accepted", file(json, 16)).toString(), conf)) {
            assertEquals(List.of("u\ud83d\ude00", "v", "x"), c.tensorNames());
            assertEquals(DType.U16, c.info("u\ud83d\ude00").dtype());
            assertEquals(DType.U64, c.info("x").dtype());
            assertEquals(8, c.info("x").byteLength());
        }
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        throw new IllegalArgumentException("no byte " + b);
    }

    /** An entry's fields in any order, and fields the spec does not name, read as the usual order is. */
    @Test
    void entriesInAnyOrderWithUnknownFields() throws IOException {
        String json = "{\"b\":{\"data_offsets\":[8,16],\"x-note\":{\"any\":[1,{\"k\":null}]},\"shape\":[2],"
                + "\"dtype\":\"F32\"},\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"shape\":[2,1],\"dtype\":\"BF16\",\"data_offsets\":[0,4],\"extra\":\"s\"},"
                + "\"c\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}";
        try (Checkpoint c = Checkpoint.open(single("order", file(json, 16)).toString(), conf)) {
            assertEquals(List.of("a", "c", "b"), c.tensorNames());
            TensorInfo a = c.info("a");
            assertEquals(DType.BF16, a.dtype());
            assertArrayEquals(new long[] {2, 1}, a.shape());
            assertArrayEquals(new long[] {}, c.info("c").shape());
            assertEquals(8, c.info("b").begin());
        }
    }

    @Test
    void tensorLevelCorruption() throws IOException {
        rejected(single("dtype", file("{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1)),
                "dtype.safetensors", "'w'", "F4");
        rejected(single("mismatch", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20)),
                "mismatch.safetensors", "'w'", "24");
        rejected(single("outside", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8)),
                "outside.safetensors", "'w'", "outside");
        rejected(single("overlap", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)),
                "overlap.safetensors", "'b'", "overlaps", "'a'");
        rejected(single("gap", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12)),
                "gap.safetensors", "'b'", "gap");
        rejected(single("trailing", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9)),
                "trailing.safetensors", "9");
        rejected(single("negative", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,0]}}", 0)),
                "negative.safetensors", "'w'", "shape");
        rejected(single("overflow", file("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
                + "\"data_offsets\":[0,8]}}", 8)), "overflow.safetensors", "'w'", "overflows");
        rejected(single("noshape", file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4)),
                "noshape.safetensors", "'w'", "shape");
        rejected(single("offsets3", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4)),
                "offsets3.safetensors", "'w'", "data_offsets");
        rejected(single("fraction", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4)),
                "fraction.safetensors", "'w'", "shape", "entry 1.5 ");
        rejected(single("nested", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,[2,{\"x\":3}]],"
                + "\"data_offsets\":[0,4]}}", 4)), "nested.safetensors", "'w'", "'shape' entry [2,{\"x\":3}] ");
        rejected(single("huge-int", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                + "\"data_offsets\":[0,99999999999999999999]}}", 4)), "huge-int.safetensors", "'w'",
                "entry 99999999999999999999 ");
        rejected(single("offsets-first", file("{\"w\":{\"data_offsets\":[0,4,8],\"shape\":[1,\"x\"],"
                + "\"dtype\":\"F32\"}}", 4)), "offsets-first.safetensors", "'w'", "'shape' entry \"x\"");
        rejected(single("notentry", file("{\"w\":[1,2]}", 0)), "notentry.safetensors", "'w'", "JSON object");
    }

    /** A valid two-shard model whose index is then replaced by {@code weightMapJson}. */
    private java.nio.file.Path sharded(String dirName, String weightMapJson) throws IOException {
        java.nio.file.Path dir = tmp.resolve(dirName);
        org.apache.hadoop.fs.Path hdir = new org.apache.hadoop.fs.Path(dir.toUri());
        SafetensorsWriter.write(HadoopFs.get(hdir, conf), hdir, List.of(
                SafetensorsWriter.TensorData.ofFloats("a", DType.F32, new long[] {4}, new float[4]),
                SafetensorsWriter.TensorData.ofFloats("b", DType.F32, new long[] {4}, new float[4])),
                16, Map.of());
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"metadata\":{\"total_size\":32},\"weight_map\":" + weightMapJson + "}");
        return dir;
    }

    private static final String S1 = "model-00001-of-00002.safetensors";
    private static final String S2 = "model-00002-of-00002.safetensors";

    @Test
    void indexProblems() throws IOException {
        rejected(sharded("up", "{\"a\":\"" + S1 + "\",\"b\":\"../other/" + S2 + "\"}"),
                "model.safetensors.index.json", "../other/" + S2, "'b'");
        rejected(sharded("abs", "{\"a\":\"" + S1 + "\",\"b\":\"/etc/" + S2 + "\"}"),
                "model.safetensors.index.json", "/etc/" + S2);
        rejected(sharded("url", "{\"a\":\"" + S1 + "\",\"b\":\"https://example.com/" + S2 + "\"}"),
                "index.json", "https://example.com/");
        rejected(sharded("scheme", "{\"a\":\"" + S1 + "\",\"b\":\"file:" + S2 + "\"}"),
                "index.json", "file:" + S2);
        rejected(sharded("inner", "{\"a\":\"" + S1 + "\",\"b\":\"x/../" + S2 + "\"}"),
                "index.json", "x/../");
        rejected(sharded("missing", "{\"a\":\"" + S1 + "\",\"b\":\"model-00009-of-00009.safetensors\"}"),
                "model-00009-of-00009.safetensors", "does not exist");
        rejected(sharded("unlisted", "{\"a\":\"" + S1 + "\"}"), S2, "'b'", "not listed");
        rejected(sharded("extra", "{\"a\":\"" + S1 + "\",\"b\":\"" + S2 + "\",\"c\":\"" + S2 + "\"}"),
                "'c'", S2);
        rejected(sharded("swapped", "{\"a\":\"" + S2 + "\",\"b\":\"" + S1 + "\"}"), "'a'", S2);
        rejected(sharded("pickleshard", "{\"a\":\"" + S1 + "\",\"b\":\"pytorch_model-00001.bin\"}"),
                "pytorch_model-00001.bin", "arbitrary code");
        rejected(sharded("noweights", "[]"), "weight_map");
        rejected(sharded("emptymap", "{}"), "model.safetensors.index.json", "lists no tensor");
        rejected(sharded("extrapath", "{\"a\":\"" + S1 + "\",\"b\":\"" + S2 + "\",\"c\":\"" + S1 + "\"}"),
                "'c'", tmp.resolve("extrapath").resolve(S1).toString());
        rejected(sharded("tail", "{\"a\":\"" + S1 + "\",\"b\":\"" + S2 + "\"}} ,\"x\""), "index.json", "not valid JSON");
    }

    @Test
    void picklesAreRefusedWithTheWayOut() throws IOException {
        java.nio.file.Path bin = put("pt/pytorch_model.bin", new byte[] {(byte) 0x80, 2, 'c'});
        rejected(bin, "pytorch_model.bin", "arbitrary code", "safetensors", "save_pretrained");
        rejected(bin.getParent(), "pytorch_model.bin", "arbitrary code");
        rejected(put("w.pt", new byte[16]), "w.pt", "arbitrary code");
        rejected(put("w.pth", new byte[16]), "w.pth", "arbitrary code");
    }

    @Test
    void otherLocationsProblems() throws IOException {
        rejected(tmp.resolve("nowhere"), "nowhere", "not found");
        Files.createDirectories(tmp.resolve("emptydir"));
        rejected(tmp.resolve("emptydir"), "emptydir");
        put("adapter/adapter_config.json", "{}".getBytes(StandardCharsets.UTF_8));
        rejected(tmp.resolve("adapter"), "adapter", "PEFT adapter");
        rejected(put("notes.txt", new byte[4]), "notes.txt", "safetensors");
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoint.open("nosuchfs://host/model", conf));
        assertTrue(e.getMessage().contains("nosuchfs"), e.getMessage());
    }
}
