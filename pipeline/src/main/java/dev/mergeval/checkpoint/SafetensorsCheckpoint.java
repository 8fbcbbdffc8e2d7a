package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.functional.FutureIO;

/**
 * A checkpoint stored as one or more safetensors files. One stream is kept open per shard and all
 * reads are positional ({@code readFully(position, ...)}), so concurrent readers do not share a
 * file pointer. {@link #reopen} gives a checkpoint over the same headers whose streams open as
 * their shards are first read, with the status the headers were checked against (on S3A, no
 * request until then).
 */
final class SafetensorsCheckpoint implements Checkpoint {

    /** Largest single positional read: bounds scratch memory, and is one ranged GET on S3A. */
    private static final int MAX_READ_BYTES = 8 << 20;

    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[0]);

    private record Shard(ShardFile file, SafetensorsHeader header, FileStatus status) {
    }

    private final String location;
    private final String root;
    private final FileSystem fs;
    private final List<Shard> shards;
    private final Map<String, Integer> shardOfTensor;
    private final List<String> names;
    private final ObjectNode config;
    /** Each shard's stream, null until it is first read; guarded by itself, as is {@link #closed}. */
    private final FSDataInputStream[] streams;
    private boolean closed;

    private SafetensorsCheckpoint(String location, String root, FileSystem fs, List<Shard> shards,
                                  ObjectNode config, FSDataInputStream[] streams) {
        this.location = location;
        this.root = root;
        this.fs = fs;
        this.shards = List.copyOf(shards);
        this.config = config;
        this.streams = streams;
        Map<String, Integer> idx = new HashMap<>();
        List<String> order = new ArrayList<>();
        for (int i = 0; i < shards.size(); i++) {
            for (TensorInfo t : shards.get(i).header().tensors()) {
                Integer prev = idx.put(t.name(), i);
                if (prev != null) {
                    throw new BadInputException("tensor '" + t.name() + "' is in two shards: "
                            + shards.get(prev).file().path() + " and " + shards.get(i).file().path());
                }
                order.add(t.name());
            }
        }
        this.shardOfTensor = idx;
        this.names = Collections.unmodifiableList(order);
    }

    private SafetensorsCheckpoint(SafetensorsCheckpoint opened) {
        this.location = opened.location;
        this.root = opened.root;
        this.fs = opened.fs;
        this.shards = opened.shards;
        this.config = opened.config;
        this.shardOfTensor = opened.shardOfTensor;
        this.names = opened.names;
        this.streams = new FSDataInputStream[shards.size()];
    }

    @Override
    public Checkpoint reopen() {
        return new SafetensorsCheckpoint(this);
    }

    /**
     * Opens {@code shardPaths} (already checked to exist) of the model directory {@code rootDir}.
     * If {@code weightMap} is non-null it must agree exactly with the shards' headers.
     */
    static SafetensorsCheckpoint open(String location, FileSystem fs, Path rootDir,
                                      List<Path> shardPaths, Map<String, String> weightMap,
                                      ObjectNode config) {
        List<Shard> shards = new ArrayList<>();
        FSDataInputStream[] streams = new FSDataInputStream[shardPaths.size()];
        try {
            for (Path p : shardPaths) {
                FileStatus status = fs.getFileStatus(p);
                FSDataInputStream in = fs.open(p);
                streams[shards.size()] = in;
                SafetensorsHeader h = SafetensorsHeader.read(in, status.getLen(), p.toString());
                shards.add(new Shard(ShardFile.of(p, status), h, status));
            }
            if (weightMap != null) {
                checkWeightMap(shards, relativeNames(rootDir, shardPaths), weightMap);
            }
            return new SafetensorsCheckpoint(location, rootDir.toString(), fs, shards, config, streams);
        } catch (IOException e) {
            closeAll(streams);
            throw new UncheckedIOException("cannot open checkpoint " + location, e);
        } catch (RuntimeException e) {
            closeAll(streams);
            throw e;
        }
    }

    /** Shard paths relative to the model directory, as an index names them. */
    private static List<String> relativeNames(Path rootDir, List<Path> shardPaths) {
        String root = rootDir.toUri().getPath();
        List<String> names = new ArrayList<>();
        for (Path p : shardPaths) {
            String full = p.toUri().getPath();
            names.add(full.startsWith(root + "/") ? full.substring(root.length() + 1) : p.getName());
        }
        return names;
    }

    private static void checkWeightMap(List<Shard> shards, List<String> shardNames,
                                       Map<String, String> weightMap) {
        Map<String, String> actual = new HashMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String shardName = shardNames.get(i);
            for (TensorInfo t : shards.get(i).header().tensors()) {
                String mapped = weightMap.get(t.name());
                if (mapped == null) {
                    throw new BadInputException(shards.get(i).file().path() + ": tensor '"
                            + t.name() + "' is not listed in the index weight_map");
                }
                if (!mapped.equals(shardName)) {
                    throw new BadInputException(shards.get(i).file().path() + ": tensor '"
                            + t.name() + "' is here but the index weight_map puts it in " + mapped);
                }
                actual.put(t.name(), shardName);
            }
        }
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            if (!actual.containsKey(e.getKey())) {
                throw new BadInputException("index weight_map lists tensor '" + e.getKey()
                        + "' in " + shardPath(shards, shardNames, e.getValue()) + " but that shard does not contain it");
            }
        }
    }

    /** The path of the shard an index names {@code name}, for errors. */
    private static String shardPath(List<Shard> shards, List<String> shardNames, String name) {
        int i = shardNames.indexOf(name);
        return i >= 0 ? shards.get(i).file().path() : name;
    }

    private static void closeAll(FSDataInputStream[] streams) {
        for (FSDataInputStream in : streams) {
            try {
                if (in != null) {
                    in.close();
                }
            } catch (IOException ignored) {
                // Already failing or closing; the first error is the one to report.
            }
        }
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public String root() {
        return root;
    }

    @Override
    public List<String> tensorNames() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return shardOfTensor.containsKey(name);
    }

    private Shard shard(String name) {
        return shards.get(shardIndex(name));
    }

    private int shardIndex(String name) {
        Integer i = shardOfTensor.get(name);
        if (i == null) {
            throw new BadInputException(location + ": no tensor '" + name + "'");
        }
        return i;
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).header().tensor(name);
    }

    @Override
    public ShardFile shardOf(String name) {
        return shard(name).file();
    }

    @Override
    public void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count) {
        int shard = shardIndex(name);
        Shard s = shards.get(shard);
        TensorInfo t = s.header().tensor(name);
        DType dt = t.dtype();
        if (!dt.isCodecSupported()) {
            throw new BadInputException(s.file().path() + ": tensor '" + name + "' is " + dt
                    + ", which has no float32 conversion; it can only be copied raw");
        }
        Objects.checkFromIndexSize(elementOffset, count, t.numElements());
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        int es = dt.byteSize();
        int maxElems = MAX_READ_BYTES / es;
        byte[] buf = scratch(Math.min(count, maxElems) * es);
        long pos = s.header().dataOffset() + t.begin() + elementOffset * es;
        for (int done = 0; done < count; ) {
            int n = Math.min(maxElems, count - done);
            readFully(shard, name, pos, buf, 0, n * es);
            TensorCodec.decode(dt, ByteBuffer.wrap(buf, 0, n * es), dst, dstOff + done, n);
            pos += (long) n * es;
            done += n;
        }
    }

    @Override
    public byte[] readRaw(String name, long byteOffset, int length) {
        int shard = shardIndex(name);
        Shard s = shards.get(shard);
        TensorInfo t = s.header().tensor(name);
        Objects.checkFromIndexSize(byteOffset, length, t.byteLength());
        byte[] out = new byte[length];
        readFully(shard, name, s.header().dataOffset() + t.begin() + byteOffset, out, 0, length);
        return out;
    }

    @Override
    public void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        int shard = shardIndex(name);
        Shard s = shards.get(shard);
        TensorInfo t = s.header().tensor(name);
        Objects.checkFromIndexSize(byteOffset, length, t.byteLength());
        Objects.checkFromIndexSize(dstOff, length, dst.length);
        readFully(shard, name, s.header().dataOffset() + t.begin() + byteOffset, dst, dstOff, length);
    }

    private void readFully(int shard, String name, long pos, byte[] buf, int off, int len) {
        Shard s = shards.get(shard);
        try {
            stream(shard).readFully(pos, buf, off, len);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tensor '" + name + "' from "
                    + s.file().path(), e);
        }
    }

    /** Shard {@code i}'s stream, opened on first use with the status its header was checked against. */
    private FSDataInputStream stream(int i) throws IOException {
        synchronized (streams) {
            if (closed) {
                throw new IllegalStateException("checkpoint " + location + " is closed");
            }
            if (streams[i] == null) {
                FileStatus status = shards.get(i).status();
                streams[i] = FutureIO.awaitFuture(fs.openFile(status.getPath()).withFileStatus(status).build());
            }
            return streams[i];
        }
    }

    private static byte[] scratch(int size) {
        byte[] b = SCRATCH.get();
        if (b.length < size) {
            b = new byte[size];
            SCRATCH.set(b);
        }
        return b;
    }

    @Override
    public List<ShardFile> shardFiles() {
        List<ShardFile> out = new ArrayList<>();
        for (Shard s : shards) {
            out.add(s.file());
        }
        return out;
    }

    @Override
    public ObjectNode config() {
        return config == null ? null : config.deepCopy();
    }

    @Override
    public Map<String, String> metadata() {
        return shards.isEmpty() ? Map.of() : shards.get(0).header().metadata();
    }

    @Override
    public void close() {
        synchronized (streams) {
            if (!closed) {
                closed = true;
                closeAll(streams);
            }
        }
    }
}
