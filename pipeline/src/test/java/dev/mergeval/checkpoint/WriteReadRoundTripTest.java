package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteReadRoundTripTest {

    @TempDir
    java.nio.file.Path tmp;

    private final Configuration conf = new Configuration();

    /** One tensor of every dtype; floats for codec types, random bytes for the raw ones. */
    static List<SafetensorsWriter.TensorData> everyDtype(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<SafetensorsWriter.TensorData> out = new ArrayList<>();
        for (DType dt : DType.values()) {
            long[] shape = {3, 5 + dt.ordinal()};
            int n = (int) (shape[0] * shape[1]);
            String name = "layer." + dt.name().toLowerCase() + ".weight";
            if (dt.isCodecSupported()) {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (float) rnd.nextGaussian();
                }
                out.add(SafetensorsWriter.TensorData.ofFloats(name, dt, shape, v));
            } else {
                byte[] b = new byte[n * dt.byteSize()];
                rnd.nextBytes(b);
                out.add(SafetensorsWriter.TensorData.ofRaw(name, dt, shape, b));
            }
        }
        out.add(SafetensorsWriter.TensorData.ofFloats("scalar", DType.F32, new long[0],
                new float[] {42.5f}));
        out.add(SafetensorsWriter.TensorData.ofFloats("empty", DType.BF16, new long[] {0, 4},
                new float[0]));
        return out;
    }

    private void assertSameContents(List<SafetensorsWriter.TensorData> want, Checkpoint ck) {
        List<String> names = new ArrayList<>();
        for (SafetensorsWriter.TensorData t : want) {
            names.add(t.spec().name());
            TensorInfo info = ck.info(t.spec().name());
            assertEquals(t.spec().dtype(), info.dtype(), t.spec().name());
            assertArrayEquals(t.spec().shape(), info.shape(), t.spec().name());
            if (t.floats() != null) {
                float[] expected = t.floats().clone();
                TensorCodec.roundTo(t.spec().dtype(), expected, 0, expected.length);
                assertArrayEquals(expected, ck.readFloats(t.spec().name()), t.spec().name());
            } else {
                assertArrayEquals(t.raw(), ck.readRaw(t.spec().name(), 0, t.raw().length),
                        t.spec().name());
            }
        }
        assertEquals(names, ck.tensorNames(), "order preserved");
    }

    @Test
    void everyDtypeRoundTripsInOneFile() {
        List<SafetensorsWriter.TensorData> data = everyDtype(1);
        Path dir = new Path(tmp.resolve("single").toUri());
        FileSystem fs = HadoopFs.get(dir, conf);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("mergeval", "tést \"quoted\"");
        ShardLayout layout = SafetensorsWriter.write(fs, dir, data, ShardLayout.DEFAULT_MAX_SHARD_BYTES, meta);
        assertFalse(layout.isSharded());
        assertTrue(Files.isRegularFile(tmp.resolve("single/model.safetensors")));
        assertFalse(Files.exists(tmp.resolve("single/.model.safetensors.crc")), "no .crc sidecar");
        try (Checkpoint ck = Checkpoint.open(dir.toString(), conf)) {
            assertSameContents(data, ck);
            assertEquals(meta, ck.metadata());
        }
        SafetensorsHeader h = SafetensorsHeader.read(fs, new Path(dir, "model.safetensors"));
        assertEquals(0, h.dataOffset() % 8, "data section 8-byte aligned");
    }

    @Test
    void tensorsCopiedFromASourceAreWrittenBlockByBlockWithTheirExactBytes() {
        // 3 MiB + 6 bytes: three whole 1 MiB blocks and a short one, between two held tensors.
        SplittableRandom rnd = new SplittableRandom(9);
        byte[] big = new byte[3 * (1 << 20) + 6];
        rnd.nextBytes(big);
        List<long[]> reads = new ArrayList<>();
        List<SafetensorsWriter.TensorData> data = List.of(
                SafetensorsWriter.TensorData.ofFloats("a", DType.F32, new long[] {2}, new float[] {1f, 2f}),
                SafetensorsWriter.TensorData.ofSource("copied", DType.BF16, new long[] {big.length / 2},
                        (offset, dst, off, len) -> {
                            reads.add(new long[] {offset, len});
                            System.arraycopy(big, (int) offset, dst, off, len);
                        }),
                SafetensorsWriter.TensorData.ofRaw("z", DType.U8, new long[] {3}, new byte[] {7, 8, 9}));
        Path file = new Path(tmp.resolve("copy/model.safetensors").toUri());
        SafetensorsWriter.writeFile(HadoopFs.get(file, conf), file, data, Map.of());
        try (Checkpoint ck = Checkpoint.open(file.toString(), conf)) {
            assertEquals(List.of("a", "copied", "z"), ck.tensorNames());
            assertArrayEquals(big, ck.readRaw("copied", 0, big.length));
            assertArrayEquals(new float[] {1f, 2f}, ck.readFloats("a"));
            assertArrayEquals(new byte[] {7, 8, 9}, ck.readRaw("z", 0, 3));
        }
        assertEquals(4, reads.size(), "read block by block, never whole");
        assertEquals(6L, reads.get(3)[1]);
    }

    @Test
    void shardedWriteReadsBackIdenticalAndFollowsHfNaming() throws Exception {
        List<SafetensorsWriter.TensorData> data = everyDtype(2);
        Path dir = new Path(tmp.resolve("sharded").toUri());
        FileSystem fs = HadoopFs.get(dir, conf);
        ShardLayout layout = SafetensorsWriter.write(fs, dir, data, 100, Map.of());
        int n = layout.shards().size();
        assertTrue(n > 3, "small limit gives several shards, got " + n);
        for (int i = 0; i < n; i++) {
            String want = String.format("model-%05d-of-%05d.safetensors", i + 1, n);
            assertEquals(want, layout.shards().get(i).fileName());
            assertTrue(Files.isRegularFile(tmp.resolve("sharded").resolve(want)));
            long data0 = 0;
            for (TensorInfo t : layout.shards().get(i).tensors()) {
                data0 += t.byteLength();
            }
            assertTrue(data0 <= 100 || layout.shards().get(i).tensors().size() == 1,
                    "only a lone oversized tensor may exceed the limit");
        }
        JsonNode index = new ObjectMapper().readTree(
                tmp.resolve("sharded/model.safetensors.index.json").toFile());
        long total = 0;
        for (SafetensorsWriter.TensorData t : data) {
            total += t.spec().byteLength();
            assertEquals(layout.placement(t.spec().name()).shard().fileName(),
                    index.get("weight_map").get(t.spec().name()).asText());
        }
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        try (Checkpoint ck = Checkpoint.open(dir.toString(), conf)) {
            assertSameContents(data, ck);
            assertEquals(n, ck.shardFiles().size());
            assertEquals("file:" + tmp.resolve("sharded"), ck.root());
        }
        // The index file itself is also an accepted location.
        try (Checkpoint ck = Checkpoint.open(dir + "/model.safetensors.index.json", conf)) {
            assertEquals(data.size(), ck.tensorNames().size());
        }
    }

    @Test
    void concurrentRangedReadsAgreeWithSerialReads() throws Exception {
        SplittableRandom rnd = new SplittableRandom(12);
        List<SafetensorsWriter.TensorData> data = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            float[] v = new float[4096];
            for (int j = 0; j < v.length; j++) {
                v[j] = (float) rnd.nextGaussian();
            }
            data.add(SafetensorsWriter.TensorData.ofFloats("t" + i, i % 2 == 0 ? DType.BF16 : DType.F32,
                    new long[] {64, 64}, v));
        }
        Path dir = new Path(tmp.resolve("concurrent").toUri());
        SafetensorsWriter.write(HadoopFs.get(dir, conf), dir, data, 20_000, Map.of());
        try (Checkpoint ck = Checkpoint.open(dir.toString(), conf)) {
            Map<String, float[]> whole = new LinkedHashMap<>();
            for (String n : ck.tensorNames()) {
                whole.put(n, ck.readFloats(n));
            }
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
            try {
                List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
                for (int task = 0; task < 64; task++) {
                    SplittableRandom tr = new SplittableRandom(100 + task);
                    results.add(pool.submit(() -> {
                        for (int k = 0; k < 50; k++) {
                            String n = "t" + tr.nextInt(6);
                            int off = tr.nextInt(4096);
                            int len = tr.nextInt(4096 - off) + 1;
                            float[] got = ck.readFloats(n, off, len);
                            if (!java.util.Arrays.equals(got,
                                    java.util.Arrays.copyOfRange(whole.get(n), off, off + len))) {
                                return false;
                            }
                        }
                        return true;
                    }));
                }
                for (java.util.concurrent.Future<Boolean> f : results) {
                    assertTrue(f.get(), "a concurrent ranged read differed from the serial read");
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void layoutIsDeterministicAndMatchesWrittenBytes() throws Exception {
        List<TensorInfo> specs = new ArrayList<>();
        for (SafetensorsWriter.TensorData t : everyDtype(3)) {
            specs.add(t.spec());
        }
        Map<String, String> meta = Map.of("k", "v");
        ShardLayout a = ShardLayout.plan(specs, 64, meta);
        ShardLayout b = ShardLayout.plan(new ArrayList<>(specs), 64, new LinkedHashMap<>(meta));
        assertEquals(a.shards(), b.shards());
        assertEquals(a.indexJson(), b.indexJson());
        ShardLayout.Shard s = a.shards().get(0);
        byte[] header = s.headerBytes();
        assertEquals(0, header.length % 8);
        int close = new String(header, java.nio.charset.StandardCharsets.UTF_8).lastIndexOf('}');
        for (int i = close + 1; i < header.length; i++) {
            assertEquals(' ', header[i], "header padded with spaces");
        }
        Path dir = new Path(tmp.resolve("det").toUri());
        FileSystem fs = HadoopFs.get(dir, conf);
        SafetensorsWriter.write(fs, dir, everyDtype(3), 64, meta);
        byte[] file = Files.readAllBytes(tmp.resolve("det").resolve(s.fileName()));
        assertEquals(s.fileLength(), file.length);
        assertArrayEquals(header, java.util.Arrays.copyOf(file, header.length));
        SafetensorsHeader parsed = SafetensorsHeader.read(fs, new Path(dir, s.fileName()));
        assertEquals(s.tensors(), parsed.tensors());
    }

    /**
     * Names and metadata that JSON must escape (quotes, backslashes, control characters, non-ASCII
     * and a character outside the BMP) are written as Jackson's generator writes them, and read back.
     */
    @Test
    void namesThatNeedEscapingRoundTrip() throws Exception {
        List<String> names = List.of("a\"quote", "back\\slash", "line\nbreak\ttab\u0001", "caf\u00e9.weight",
                "emoji\ud83d\ude00", "plain/slash");
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        List<TensorInfo> specs = new ArrayList<>();
        for (String name : names) {
            SafetensorsWriter.TensorData t = SafetensorsWriter.TensorData.ofFloats(name, DType.F32, new long[] {2},
                    new float[] {1, 2});
            tensors.add(t);
            specs.add(t.spec());
        }
        Map<String, String> meta = Map.of("k\"\u0002", "v\\\u00e9");
        StringBuilder expected = new StringBuilder("{");
        ObjectMapper jackson = new ObjectMapper();
        expected.append(jackson.writeValueAsString("__metadata__")).append(":{")
                .append(jackson.writeValueAsString("k\"\u0002")).append(':')
                .append(jackson.writeValueAsString("v\\\u00e9")).append('}');
        ShardLayout.Shard shard = ShardLayout.plan(specs, 1 << 20, meta).shards().get(0);
        String header = new String(shard.headerBytes(), 8, shard.headerBytes().length - 8,
                java.nio.charset.StandardCharsets.UTF_8).stripTrailing();
        for (String name : names) {
            assertTrue(header.contains(jackson.writeValueAsString(name) + ":{"), name + " in " + header);
        }
        assertTrue(header.startsWith(expected.toString()), header);
        Path dir = new Path(tmp.resolve("escaped").toUri());
        SafetensorsWriter.write(HadoopFs.get(dir, conf), dir, tensors, 1 << 20, meta);
        try (Checkpoint ck = Checkpoint.open(dir.toString(), conf)) {
            assertEquals(names, ck.tensorNames());
            assertSameContents(tensors, ck);
        }
    }

    @Test
    void oversizedTensorGoesAloneAndOrderIsKept() {
        List<TensorInfo> specs = List.of(
                new TensorInfo("a", DType.F32, new long[] {4}),
                new TensorInfo("big", DType.F32, new long[] {100}),
                new TensorInfo("b", DType.F32, new long[] {4}),
                new TensorInfo("c", DType.F32, new long[] {4}));
        ShardLayout l = ShardLayout.plan(specs, 40, Map.of());
        assertEquals(List.of("a", "big", "b", "c"), l.tensorNames());
        assertEquals(3, l.shards().size());
        assertEquals(List.of("big"), l.shards().get(1).tensors().stream().map(TensorInfo::name).toList());
        assertEquals(2, l.shards().get(2).tensors().size());
        assertEquals(16 * 3 + 400, l.totalSize());
        assertThrows(dev.mergeval.common.BadInputException.class, () -> ShardLayout.plan(
                List.of(specs.get(0), specs.get(0)), 40, Map.of()));
    }

    @Test
    void writerRefusesOutOfOrderAndIncompleteOutput() {
        Path dir = new Path(tmp.resolve("bad").toUri());
        FileSystem fs = HadoopFs.get(dir, conf);
        ShardLayout l = ShardLayout.plan(List.of(
                new TensorInfo("x", DType.F16, new long[] {2}),
                new TensorInfo("y", DType.F16, new long[] {2})), 4, Map.of());
        SafetensorsWriter w = SafetensorsWriter.create(fs, dir, l);
        assertThrows(IllegalStateException.class, () -> w.writeFloats("y", new float[2], 0, 2));
        w.writeFloats("x", new float[] {1f}, 0, 1);
        w.writeFloats("x", new float[] {2f}, 0, 1);
        assertThrows(IllegalStateException.class, () -> w.writeFloats("x", new float[1], 0, 1));
        assertThrows(IllegalStateException.class, w::close);
        assertFalse(Files.exists(tmp.resolve("bad/model.safetensors.index.json")),
                "no index for an incomplete output");
    }
}
