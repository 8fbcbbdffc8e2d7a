package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The output written once, in place: where the output filesystem allows positional writes into a
 * shared file (the local filesystem, NFS mounts included), the driver creates every shard at its
 * final length with its header before any unit runs, and each unit writes its bytes straight at the
 * offsets of the {@link ShardLayout}. There is no part file and no copy.
 *
 * <p>Files under the parts directory: {@value #MODE_MARKER}, written after the shards were created
 * and holding the plan id, tells units to write in place (without it they write part files); and
 * one completion marker per unit, created after the unit's bytes are written, so that a re-run of
 * the same plan skips finished units. A unit without its marker is written again in full; two
 * attempts of one unit write the same bytes to the same place.
 *
 * <p>Object stores and HDFS have no positional writes and keep the parts-then-assemble path. The
 * Hadoop setting {@value #ENABLED_KEY} ({@code true} by default) turns the in-place path off.
 */
final class InPlaceShards {

    /** Hadoop configuration key; {@code false} forces part files even on the local filesystem. */
    static final String ENABLED_KEY = "mergeval.merge.write-in-place";

    static final String MODE_MARKER = "_in_place";

    /** The layout of the most recent plan: units of one plan share it instead of rebuilding it. */
    private static volatile Map.Entry<String, ShardLayout> lastLayout;

    private InPlaceShards() {
    }

    /**
     * Creates the shards of {@code plan} in {@code staging} (header written, length set) and the
     * mode marker, unless a previous run of the same plan did so already (then finished units are
     * kept). Returns false, touching nothing, where the filesystem has no positional writes or the
     * in-place path is turned off.
     */
    static boolean prepare(MergePlan plan, Path staging, Path parts, Configuration conf) throws IOException {
        FileSystem fs = HadoopFs.get(staging, conf);
        if (!(fs instanceof RawLocalFileSystem local) || !conf.getBoolean(ENABLED_KEY, true)) {
            return false;
        }
        Path marker = new Path(parts, MODE_MARKER);
        if (plan.planId().equals(readMarker(fs, marker))) {
            return true;
        }
        // A fresh start, or a run killed while creating the shards: nothing here can be trusted.
        fs.delete(parts, true);
        fs.mkdirs(parts);
        for (ShardLayout.Shard shard : layout(plan).shards()) {
            try (RandomAccessFile f = new RandomAccessFile(local.pathToFile(new Path(staging, shard.fileName())), "rw")) {
                f.setLength(0);
                f.write(shard.headerBytes());
                f.setLength(shard.fileLength());
            }
        }
        try (OutputStream out = fs.create(marker, true)) {
            out.write(plan.planId().getBytes(StandardCharsets.UTF_8));
        }
        return true;
    }

    /**
     * The shards' directory when {@code parts} was prepared for in-place writes of {@code plan};
     * null when units must write part files.
     */
    static Path shardsDirIfPrepared(FileSystem fs, Path parts, MergePlan plan) throws IOException {
        if (!(fs instanceof RawLocalFileSystem)) {
            return null;
        }
        String id = readMarker(fs, new Path(parts, MODE_MARKER));
        if (id == null) {
            return null;
        }
        if (!id.equals(plan.planId())) {
            throw new IllegalStateException(parts + " was prepared for plan " + id + ", not " + plan.planId());
        }
        return parts.getParent();
    }

    static Path doneMarker(Path parts, WorkUnit unit) {
        return new Path(parts, String.format("unit-%06d.done", unit.id()));
    }

    static ShardLayout layout(MergePlan plan) {
        Map.Entry<String, ShardLayout> last = lastLayout;
        if (last != null && last.getKey().equals(plan.planId())) {
            return last.getValue();
        }
        ShardLayout layout = MergeCommitter.layout(plan);
        lastLayout = Map.entry(plan.planId(), layout);
        return layout;
    }

    private static String readMarker(FileSystem fs, Path marker) throws IOException {
        if (!fs.exists(marker)) {
            return null;
        }
        try (InputStream in = fs.open(marker)) {
            return new String(in.readNBytes(256), StandardCharsets.UTF_8);
        }
    }

    /** Positional writes of one unit into the shards, one channel per shard touched. */
    static final class Sink implements UnitSink {
        private final RawLocalFileSystem fs;
        private final Path shardsDir;
        private final ShardLayout layout;
        private final Map<String, FileChannel> open = new HashMap<>();

        Sink(RawLocalFileSystem fs, Path shardsDir, MergePlan plan) {
            this.fs = fs;
            this.shardsDir = shardsDir;
            this.layout = layout(plan);
        }

        @Override
        public void write(OutputTensor tensor, long tensorByteOffset, ByteBuffer bytes) throws IOException {
            ShardLayout.Placement p = layout.placement(tensor.name());
            if (tensorByteOffset + bytes.remaining() > p.info().byteLength()) {
                throw new IllegalStateException("write past the end of " + tensor.name());
            }
            FileChannel ch = open.get(p.shard().fileName());
            if (ch == null) {
                ch = FileChannel.open(fs.pathToFile(new Path(shardsDir, p.shard().fileName())).toPath(),
                        StandardOpenOption.WRITE);
                open.put(p.shard().fileName(), ch);
            }
            long pos = p.shard().dataOffset() + p.info().begin() + tensorByteOffset;
            while (bytes.hasRemaining()) {
                pos += ch.write(bytes, pos);
            }
        }

        @Override
        public void close() throws IOException {
            IOException first = null;
            for (FileChannel ch : open.values()) {
                try {
                    ch.close();
                } catch (IOException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }
}
