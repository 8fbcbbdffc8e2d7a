package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardLayout;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Parallel;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Finishes the output shards. Where units wrote in place ({@link InPlaceShards}) it checks and
 * hashes them; otherwise it assembles each shard from the units' parts: its planned header followed
 * by its tensors' bytes, copied from the parts in output order, shards in parallel.
 */
public final class MergeCommitter {

    private static final int COPY_BUFFER_BYTES = 1 << 20;
    private static final String INDEX_FILE = "model.safetensors.index.json";

    private MergeCommitter() {
    }

    /** One assembled shard: its file name, length and digest of kind {@code digest}. */
    public record WrittenShard(String fileName, long bytes, FileDigest digest, String hex) {
    }

    /** Where a piece of a tensor's bytes lies in a part file. */
    private record Piece(String partPath, long partOffset, long tensorByteOffset, long length) {
    }

    public static ShardLayout layout(MergePlan plan) {
        List<TensorInfo> specs = new ArrayList<>();
        for (OutputTensor t : plan.tensors()) {
            specs.add(t.spec());
        }
        return ShardLayout.plan(specs, plan.maxShardBytes(), Map.of("format", "pt"));
    }

    /**
     * Writes every shard of the plan's layout (and the index when there are several) into
     * {@code stagingDir} from the units' part files, checking each part's length against the plan
     * first.
     */
    public static List<WrittenShard> assemble(MergePlan plan, List<UnitResult> results, String stagingDir,
            Configuration conf, int threads, FileDigest digest) {
        Map<String, List<Piece>> pieces = pieces(plan, results);
        ShardLayout layout = layout(plan);
        List<WrittenShard> written = Parallel.call(layout.shards().stream()
                .<Callable<WrittenShard>>map(shard -> () -> writeShard(shard, pieces, stagingDir, conf, digest)).toList(), threads);
        try {
            writeIndex(layout, stagingDir, conf);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return written;
    }

    /**
     * Finishes an output whose units wrote straight into the shards ({@link InPlaceShards}): checks
     * that every unit finished, that the units cover every tensor without gaps and that every shard
     * has its planned length, then hashes the shards with {@code hasher} (the executor's, so the
     * bytes are read where that is cheapest), giving digests of kind {@code digest}, and writes the
     * index when there are several shards.
     */
    public static List<WrittenShard> commitInPlace(MergePlan plan, List<UnitResult> results, String stagingDir,
            Configuration conf, Function<List<String>, List<String>> hasher, FileDigest digest) {
        Map<String, List<Piece>> pieces = pieces(plan, results);
        ShardLayout layout = layout(plan);
        try {
            FileSystem fs = HadoopFs.get(new Path(stagingDir), conf);
            List<String> files = new ArrayList<>();
            for (ShardLayout.Shard shard : layout.shards()) {
                for (TensorInfo t : shard.tensors()) {
                    long covered = 0;
                    for (Piece p : pieces.getOrDefault(t.name(), List.of())) {
                        if (p.tensorByteOffset() != covered) {
                            throw new IllegalStateException("tensor " + t.name() + " has a gap at byte " + covered);
                        }
                        covered += p.length();
                    }
                    if (covered != t.byteLength()) {
                        throw new IllegalStateException("tensor " + t.name() + " covered " + covered
                                + " of " + t.byteLength() + " bytes");
                    }
                }
                Path path = new Path(stagingDir, shard.fileName());
                long length = fs.getFileStatus(path).getLen();
                if (length != shard.fileLength()) {
                    throw new IllegalStateException(path + " has " + length + " bytes, plan says " + shard.fileLength());
                }
                files.add(path.toString());
            }
            List<String> hashes = hasher.apply(files);
            List<WrittenShard> written = new ArrayList<>();
            for (int i = 0; i < layout.shards().size(); i++) {
                ShardLayout.Shard shard = layout.shards().get(i);
                written.add(new WrittenShard(shard.fileName(), shard.fileLength(), digest, hashes.get(i)));
            }
            writeIndex(layout, stagingDir, conf);
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeIndex(ShardLayout layout, String stagingDir, Configuration conf) throws IOException {
        if (layout.isSharded()) {
            Path index = new Path(stagingDir, INDEX_FILE);
            try (OutputStream out = HadoopFs.get(index, conf).create(index, true)) {
                out.write(layout.indexJson().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static Map<String, List<Piece>> pieces(MergePlan plan, List<UnitResult> results) {
        Map<Integer, UnitResult> byUnit = new HashMap<>();
        for (UnitResult r : results) {
            byUnit.put(r.unitId(), r);
        }
        Map<String, List<Piece>> pieces = new LinkedHashMap<>();
        for (WorkUnit unit : plan.units()) {
            UnitResult r = byUnit.get(unit.id());
            if (r == null) {
                throw new IllegalStateException("unit " + unit.id() + " produced no part");
            }
            long expected = plan.unitBytes(unit);
            if (r.bytes() != expected) {
                throw new IllegalStateException("part of unit " + unit.id() + " has " + r.bytes()
                        + " bytes, plan says " + expected);
            }
            long offset = 0;
            for (TensorSlice s : unit.slices()) {
                int size = plan.tensor(s.tensor()).dtype().byteSize();
                long length = s.elementCount() * size;
                pieces.computeIfAbsent(s.tensor(), k -> new ArrayList<>())
                        .add(new Piece(r.partPath(), offset, s.elementOffset() * size, length));
                offset += length;
            }
        }
        return pieces;
    }

    private static WrittenShard writeShard(ShardLayout.Shard shard, Map<String, List<Piece>> pieces,
            String stagingDir, Configuration conf, FileDigest digest) throws IOException {
        Path path = new Path(stagingDir, shard.fileName());
        FileSystem fs = HadoopFs.get(path, conf);
        FileDigest.Stream hash = digest.open();
        Map<String, FSDataInputStream> open = new HashMap<>();
        byte[] buf = new byte[COPY_BUFFER_BYTES];
        long bytes;
        try (OutputStream out = fs.create(path, true)) {
            out.write(shard.headerBytes());
            hash.update(shard.headerBytes(), 0, shard.headerBytes().length);
            bytes = shard.headerBytes().length;
            for (TensorInfo t : shard.tensors()) {
                long expectedOffset = 0;
                for (Piece p : pieces.getOrDefault(t.name(), List.of())) {
                    if (p.tensorByteOffset() != expectedOffset) {
                        throw new IllegalStateException("tensor " + t.name() + " has a gap at byte " + expectedOffset);
                    }
                    FSDataInputStream in = open.get(p.partPath());
                    if (in == null) {
                        Path partPath = new Path(p.partPath());
                        in = HadoopFs.get(partPath, conf).open(partPath);
                        open.put(p.partPath(), in);
                    }
                    for (long done = 0; done < p.length(); done += buf.length) {
                        int n = (int) Math.min(buf.length, p.length() - done);
                        in.readFully(p.partOffset() + done, buf, 0, n);
                        out.write(buf, 0, n);
                        hash.update(buf, 0, n);
                    }
                    expectedOffset += p.length();
                }
                if (expectedOffset != t.byteLength()) {
                    throw new IllegalStateException("tensor " + t.name() + " assembled " + expectedOffset
                            + " of " + t.byteLength() + " bytes");
                }
                bytes += t.byteLength();
            }
        } finally {
            for (FSDataInputStream in : open.values()) {
                in.close();
            }
        }
        return new WrittenShard(shard.fileName(), bytes, digest, hash.hex());
    }
}
