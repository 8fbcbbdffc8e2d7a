package dev.mergeval.checkpoint;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.mergeval.common.BadInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Where each output tensor goes: shard files, their exact header bytes and every tensor's offsets.
 *
 * <p>The plan is a pure function of its input (same tensors, limit and metadata give the same
 * bytes), so executors on different machines can each compute it and write their parts of a shard
 * at the offsets it gives.
 *
 * <p>Rules (Hugging Face's sharding, with order kept): tensors are taken in the given order and
 * appended to the current shard until the next one would push its data past
 * {@code maxShardBytes}; a tensor larger than the limit goes alone in its own shard. One shard is
 * named {@code model.safetensors}, several {@code model-00001-of-0000N.safetensors}. Each header is
 * the safetensors layout: a u64 little-endian length, then compact JSON with {@code __metadata__}
 * first (omitted when empty) and the tensors in order, padded with spaces to a multiple of 8 bytes
 * as the reference writer does, so the data section starts 8-byte aligned.
 */
public final class ShardLayout {

    /** Default shard limit of {@code mergeval merge}: 5 GB, as Hugging Face uses. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    /**
     * One planned shard file. {@code headerBytes} is everything before the data section (the u64
     * length prefix and the padded JSON); tensor offsets are relative to the data section, which
     * starts at {@link #dataOffset()}.
     */
    public record Shard(int index, String fileName, byte[] headerBytes, long dataLength,
                        List<TensorInfo> tensors) {
        public Shard {
            headerBytes = headerBytes.clone();
            tensors = List.copyOf(tensors);
        }

        @Override
        public byte[] headerBytes() {
            return headerBytes.clone();
        }

        /** File position where the data section starts ({@code headerBytes().length}). */
        public long dataOffset() {
            return headerBytes.length;
        }

        /** Total file length. */
        public long fileLength() {
            return headerBytes.length + dataLength;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Shard s && index == s.index && fileName.equals(s.fileName)
                    && Arrays.equals(headerBytes, s.headerBytes) && dataLength == s.dataLength
                    && tensors.equals(s.tensors);
        }

        @Override
        public int hashCode() {
            return Objects.hash(index, fileName, Arrays.hashCode(headerBytes), dataLength, tensors);
        }

        @Override
        public String toString() {
            return fileName + " (" + tensors.size() + " tensors, " + fileLength() + " bytes)";
        }
    }

    /** Where one tensor lands: its shard and its entry there. */
    public record Placement(Shard shard, TensorInfo info) {
    }

    private final List<Shard> shards;
    private final Map<String, Placement> placements;
    private final long totalSize;

    private ShardLayout(List<Shard> shards) {
        this.shards = List.copyOf(shards);
        Map<String, Placement> m = new LinkedHashMap<>();
        long total = 0;
        for (Shard s : shards) {
            for (TensorInfo t : s.tensors()) {
                m.put(t.name(), new Placement(s, t));
                total += t.byteLength();
            }
        }
        this.placements = Collections.unmodifiableMap(m);
        this.totalSize = total;
    }

    /**
     * Plans the shards for {@code tensors} (kept in order) with at most {@code maxShardBytes} of
     * tensor data per shard (except single oversized tensors), each header carrying
     * {@code metadata}.
     *
     * @throws BadInputException for duplicate names or a non-positive limit
     */
    public static ShardLayout plan(List<TensorInfo> tensors, long maxShardBytes,
                                   Map<String, String> metadata) {
        if (maxShardBytes <= 0) {
            throw new BadInputException("max shard size must be positive, got " + maxShardBytes);
        }
        Map<String, Boolean> seen = new HashMap<>();
        List<List<TensorInfo>> groups = new ArrayList<>();
        List<TensorInfo> current = new ArrayList<>();
        long currentBytes = 0;
        for (TensorInfo t : tensors) {
            if (seen.put(t.name(), Boolean.TRUE) != null) {
                throw new BadInputException("tensor '" + t.name() + "' appears twice in the output");
            }
            long b = t.byteLength();
            if (!current.isEmpty() && (b > maxShardBytes || currentBytes + b > maxShardBytes)) {
                groups.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(t);
            currentBytes += b;
        }
        if (!current.isEmpty() || groups.isEmpty()) {
            groups.add(current);
        }
        int n = groups.size();
        List<Shard> shards = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String fileName = n == 1 ? CheckpointResolver.SINGLE_FILE
                    : String.format("model-%05d-of-%05d.safetensors", i + 1, n);
            shards.add(buildShard(i, fileName, groups.get(i), metadata));
        }
        return new ShardLayout(shards);
    }

    private static Shard buildShard(int index, String fileName, List<TensorInfo> specs,
                                    Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            json.append(quote(SafetensorsHeader.METADATA_KEY)).append(":{");
            boolean firstMeta = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!firstMeta) {
                    json.append(',');
                }
                json.append(quote(e.getKey())).append(':').append(quote(e.getValue()));
                firstMeta = false;
            }
            json.append('}');
            first = false;
        }
        List<TensorInfo> infos = new ArrayList<>(specs.size());
        long offset = 0;
        for (TensorInfo t : specs) {
            long end = offset + t.byteLength();
            if (!first) {
                json.append(',');
            }
            json.append(quote(t.name())).append(":{\"dtype\":\"").append(t.dtype().safetensorsName())
                    .append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            infos.add(new TensorInfo(t.name(), t.dtype(), shape, offset, end));
            offset = end;
            first = false;
        }
        json.append('}');
        byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (body.length + 7) / 8 * 8;
        ByteBuffer header = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(padded).put(body);
        while (header.hasRemaining()) {
            header.put((byte) ' ');
        }
        return new Shard(index, fileName, header.array(), offset, infos);
    }

    /**
     * {@code s} as a JSON string, escaped as Jackson's generator escapes it; without a generator
     * per call, as a header holds one name per tensor.
     */
    private static String quote(String s) {
        return '"' + new String(JsonStringEncoder.getInstance().quoteAsString(s)) + '"';
    }

    /** The shards in order. */
    public List<Shard> shards() {
        return shards;
    }

    /** True if there is more than one shard (and so an index file to write). */
    public boolean isSharded() {
        return shards.size() > 1;
    }

    /** Where {@code name} goes. */
    public Placement placement(String name) {
        Placement p = placements.get(name);
        if (p == null) {
            throw new IllegalArgumentException("tensor '" + name + "' is not in the layout");
        }
        return p;
    }

    /** Tensor names in output order. */
    public List<String> tensorNames() {
        return List.copyOf(placements.keySet());
    }

    /** Sum of all tensors' data bytes (the index's {@code metadata.total_size}). */
    public long totalSize() {
        return totalSize;
    }

    /**
     * The {@code model.safetensors.index.json} content, as transformers writes it: 2-space
     * indentation, {@code metadata.total_size}, and {@code weight_map} sorted by tensor name.
     */
    public String indexJson() {
        Map<String, String> sorted = new TreeMap<>();
        for (Placement p : placements.values()) {
            sorted.put(p.info().name(), p.shard().fileName());
        }
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize)
                .append("\n  },\n  \"weight_map\": {");
        boolean first = true;
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            b.append(first ? "\n" : ",\n").append("    ").append(quote(e.getKey())).append(": ")
                    .append(quote(e.getValue()));
            first = false;
        }
        b.append(first ? "}\n}\n" : "\n  }\n}\n");
        return b.toString();
    }
}
