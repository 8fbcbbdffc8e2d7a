package dev.mergeval.checkpoint;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes the shards of a {@link ShardLayout} into a directory, sequentially: tensors in layout
 * order, each as one or more chunks of floats (encoded to the tensor's dtype) or raw bytes.
 * {@link #close()} checks that every tensor was written in full and only then writes
 * {@code model.safetensors.index.json} (for a sharded layout), so an index never describes
 * missing data. Atomic publication of the directory is {@link OutputPublisher}'s job.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** Bytes encoded per write call. */
    private static final int CHUNK_BYTES = 1 << 20;

    /** Where a copied tensor's bytes come from: {@code len} bytes at byte {@code offset} of the tensor. */
    @FunctionalInterface
    public interface ByteSource {
        void read(long offset, byte[] dst, int dstOff, int len);
    }

    /**
     * A whole tensor: floats to encode or raw bytes to copy, held in memory, or a {@link ByteSource}
     * to copy from block by block, so that a tensor of any size (over 2 GB included) is never held.
     */
    public record TensorData(TensorInfo spec, float[] floats, byte[] raw, ByteSource source) {
        public TensorData {
            Objects.requireNonNull(spec, "spec");
            int given = (floats == null ? 0 : 1) + (raw == null ? 0 : 1) + (source == null ? 0 : 1);
            if (given != 1) {
                throw new IllegalArgumentException("exactly one of floats, raw and source is required");
            }
        }

        public static TensorData ofFloats(String name, DType dtype, long[] shape, float[] values) {
            return new TensorData(new TensorInfo(name, dtype, shape), values, null, null);
        }

        public static TensorData ofRaw(String name, DType dtype, long[] shape, byte[] bytes) {
            return new TensorData(new TensorInfo(name, dtype, shape), null, bytes, null);
        }

        /** The tensor's stored bytes, copied from {@code source} as they are written. */
        public static TensorData ofSource(String name, DType dtype, long[] shape, ByteSource source) {
            return new TensorData(new TensorInfo(name, dtype, shape), null, null, source);
        }
    }

    private final FileSystem fs;
    private final Path dir;
    /** Non-null: the one shard is written to this file instead of {@code dir/model.safetensors}. */
    private final Path singleFile;
    private final ShardLayout layout;
    private final List<TensorInfo> order = new ArrayList<>();
    private final ByteBuffer encodeBuf = ByteBuffer.allocate(CHUNK_BYTES);
    private int next;
    private long writtenOfCurrent;
    private int openShard = -1;
    private FSDataOutputStream out;
    private boolean closed;

    private SafetensorsWriter(FileSystem fs, Path dir, ShardLayout layout, Path singleFile) {
        this.fs = fs;
        this.dir = dir;
        this.singleFile = singleFile;
        this.layout = layout;
        for (ShardLayout.Shard s : layout.shards()) {
            order.addAll(s.tensors());
        }
    }

    /** A writer of {@code layout}'s shards into {@code dir} (created if absent). */
    public static SafetensorsWriter create(FileSystem fs, Path dir, ShardLayout layout) {
        try {
            fs.mkdirs(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        return new SafetensorsWriter(fs, dir, layout, null);
    }

    /** Writes {@code tensors} as one safetensors file at {@code file}, whatever its size. */
    public static void writeFile(FileSystem fs, Path file, List<TensorData> tensors,
                                 Map<String, String> metadata) {
        ShardLayout layout = ShardLayout.plan(specs(tensors), Long.MAX_VALUE, metadata);
        try (SafetensorsWriter w = new SafetensorsWriter(fs, file.getParent(), layout, file)) {
            w.writeAll(tensors);
        }
    }

    /**
     * Writes {@code tensors} into {@code dir} as one or more shards and returns the layout used.
     */
    public static ShardLayout write(FileSystem fs, Path dir, List<TensorData> tensors,
                                    long maxShardBytes, Map<String, String> metadata) {
        ShardLayout layout = ShardLayout.plan(specs(tensors), maxShardBytes, metadata);
        try (SafetensorsWriter w = create(fs, dir, layout)) {
            w.writeAll(tensors);
        }
        return layout;
    }

    private static List<TensorInfo> specs(List<TensorData> tensors) {
        List<TensorInfo> specs = new ArrayList<>();
        for (TensorData t : tensors) {
            specs.add(t.spec());
        }
        return specs;
    }

    private void writeAll(List<TensorData> tensors) {
        for (TensorData t : tensors) {
            if (t.floats() != null) {
                writeFloats(t.spec().name(), t.floats(), 0, t.floats().length);
            } else if (t.raw() != null) {
                writeRaw(t.spec().name(), t.raw(), 0, t.raw().length);
            } else {
                copy(t.spec(), t.source());
            }
        }
    }

    private void copy(TensorInfo t, ByteSource source) {
        byte[] block = encodeBuf.array();
        for (long pos = 0; pos < t.byteLength(); pos += block.length) {
            int n = (int) Math.min(block.length, t.byteLength() - pos);
            source.read(pos, block, 0, n);
            writeRaw(t.name(), block, 0, n);
        }
    }

    /** Appends {@code count} floats of {@code name}, encoded to its dtype, at its current end. */
    public void writeFloats(String name, float[] src, int off, int count) {
        TensorInfo t = begin(name);
        DType dt = t.dtype();
        if (!dt.isCodecSupported()) {
            throw new BadInputException("tensor '" + name + "' is " + dt
                    + ": write it with writeRaw, it has no float32 conversion");
        }
        Objects.checkFromIndexSize(off, count, src.length);
        long bytes = (long) count * dt.byteSize();
        checkRemaining(t, bytes);
        int per = CHUNK_BYTES / dt.byteSize();
        for (int done = 0; done < count; ) {
            int n = Math.min(per, count - done);
            encodeBuf.clear();
            TensorCodec.encode(dt, src, off + done, n, encodeBuf);
            put(encodeBuf.array(), 0, encodeBuf.position());
            done += n;
        }
        writtenOfCurrent += bytes;
    }

    /** Appends {@code len} raw bytes of {@code name} at its current end. */
    public void writeRaw(String name, byte[] src, int off, int len) {
        TensorInfo t = begin(name);
        Objects.checkFromIndexSize(off, len, src.length);
        checkRemaining(t, len);
        put(src, off, len);
        writtenOfCurrent += len;
    }

    private TensorInfo begin(String name) {
        if (closed) {
            throw new IllegalStateException("writer for " + dir + " is closed");
        }
        TensorInfo current = next < order.size() ? order.get(next) : null;
        if (current != null && writtenOfCurrent == current.byteLength() && writtenOfCurrent > 0) {
            next++;
            writtenOfCurrent = 0;
            current = next < order.size() ? order.get(next) : null;
        }
        // Zero-length tensors have nothing to write: step over them to the named one.
        while (current != null && current.byteLength() == 0 && !current.name().equals(name)) {
            next++;
            current = next < order.size() ? order.get(next) : null;
        }
        if (current == null || !current.name().equals(name)) {
            throw new IllegalStateException("tensor '" + name + "' written out of layout order;"
                    + " expected " + (current == null ? "no more tensors" : "'" + current.name() + "'"));
        }
        ensureShardOpen(layout.placement(name).shard());
        return current;
    }

    private void checkRemaining(TensorInfo t, long bytes) {
        if (writtenOfCurrent + bytes > t.byteLength()) {
            throw new IllegalStateException("tensor '" + t.name() + "': writing " + bytes
                    + " bytes at " + writtenOfCurrent + " overruns its " + t.byteLength() + " bytes");
        }
    }

    private void ensureShardOpen(ShardLayout.Shard shard) {
        if (shard.index() == openShard) {
            return;
        }
        closeShard();
        Path file = singleFile != null ? singleFile : new Path(dir, shard.fileName());
        try {
            out = fs.create(file, true);
            out.write(shard.headerBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        openShard = shard.index();
    }

    private void put(byte[] b, int off, int len) {
        try {
            out.write(b, off, len);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to " + dir, e);
        }
    }

    private void closeShard() {
        if (out != null) {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close a shard in " + dir, e);
            } finally {
                out = null;
            }
        }
    }

    /**
     * Finishes the last shard and writes the index.
     *
     * @throws IllegalStateException if a tensor was not written in full (no index is written)
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        String missing = null;
        for (int i = next; i < order.size() && missing == null; i++) {
            TensorInfo t = order.get(i);
            long done = i == next ? writtenOfCurrent : 0;
            if (done < t.byteLength()) {
                missing = t.name();
            }
        }
        // Shards holding only zero-length tensors (or none) still have to exist.
        for (ShardLayout.Shard s : layout.shards()) {
            if (missing == null && s.index() > openShard) {
                ensureShardOpen(s);
            }
        }
        closeShard();
        if (missing != null) {
            throw new IllegalStateException("output in " + dir + " is incomplete: tensor '"
                    + missing + "' was not written in full");
        }
        if (layout.isSharded()) {
            Path index = new Path(dir, CheckpointResolver.INDEX_FILE);
            try (FSDataOutputStream o = fs.create(index, true)) {
                o.write(layout.indexJson().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + index, e);
            }
        }
    }
}
