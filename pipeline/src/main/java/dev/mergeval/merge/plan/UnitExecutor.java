package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.TensorMerger;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Runs one {@link WorkUnit} wherever it is scheduled: reads the byte ranges of its tensors from
 * every input through Hadoop FileSystem, merges, and writes the unit's part file.
 *
 * <p>Idempotent: the part is written under a unique temporary name and renamed into place, so a
 * retried or speculative attempt never exposes a torn part, and a part already present with the
 * planned length (from an earlier, interrupted run of the same plan) is reused.
 */
public final class UnitExecutor {

    private static final int COPY_BUFFER_BYTES = 1 << 20;

    private UnitExecutor() {
    }

    public static UnitResult execute(MergePlan plan, WorkUnit unit, String partsDir, Configuration conf) {
        try {
            Path part = new Path(partsDir, unit.partName());
            FileSystem fs = part.getFileSystem(conf);
            long expected = plan.unitBytes(unit);
            if (fs.exists(part) && fs.getFileStatus(part).getLen() == expected) {
                return new UnitResult(unit.id(), part.toString(), expected, true);
            }
            Path tmp = new Path(partsDir, "_attempts/" + unit.partName() + "." + UUID.randomUUID());
            write(plan, unit, fs, tmp, conf);
            if (!fs.rename(tmp, part)) {
                // Another attempt of the same unit won the race; its bytes are the same by construction.
                fs.delete(tmp, false);
                if (!fs.exists(part) || fs.getFileStatus(part).getLen() != expected) {
                    throw new IOException("could not move " + tmp + " to " + part);
                }
            }
            return new UnitResult(unit.id(), part.toString(), expected, false);
        } catch (IOException e) {
            throw new UncheckedIOException("unit " + unit.id() + " (" + unit.group() + "): " + e.getMessage(), e);
        }
    }

    private static void write(MergePlan plan, WorkUnit unit, FileSystem fs, Path tmp, Configuration conf)
            throws IOException {
        MergeConfig config = MergeConfig.parse(plan.configYaml(), "plan " + plan.planId());
        TensorMerger merger = TensorMerger.create(config, plan.numLayers());
        Map<String, Checkpoint> inputs = new LinkedHashMap<>();
        try (OutputStream out = fs.create(tmp, true)) {
            for (PlanInput in : plan.inputs()) {
                inputs.put(in.ref(), Checkpoint.open(in.uri(), conf));
            }
            for (TensorSlice slice : unit.slices()) {
                OutputTensor tensor = plan.tensor(slice.tensor());
                if (!tensor.merged()) {
                    copyRaw(inputs.get(plan.copySource()), tensor, slice, out);
                } else {
                    boolean chunked = merger.chunkable(tensor.name());
                    int step = chunked ? plan.chunkElements() : Math.toIntExact(slice.elementCount());
                    for (long done = 0; done < slice.elementCount(); done += step) {
                        int n = (int) Math.min(step, slice.elementCount() - done);
                        long offset = slice.elementOffset() + done;
                        Map<String, float[]> values = new LinkedHashMap<>();
                        for (Map.Entry<String, Checkpoint> e : inputs.entrySet()) {
                            values.put(e.getKey(), e.getValue().readFloats(tensor.name(), offset, n));
                        }
                        float[] merged = merger.merge(tensor.name(), tensor.shape(), offset, values, plan.seed());
                        writeEncoded(tensor, merged, out);
                    }
                }
            }
        } finally {
            for (Checkpoint c : inputs.values()) {
                c.close();
            }
        }
    }

    private static void copyRaw(Checkpoint source, OutputTensor tensor, TensorSlice slice, OutputStream out)
            throws IOException {
        int size = tensor.dtype().byteSize();
        long begin = slice.elementOffset() * size;
        long end = begin + slice.elementCount() * size;
        for (long pos = begin; pos < end; pos += COPY_BUFFER_BYTES) {
            int n = (int) Math.min(COPY_BUFFER_BYTES, end - pos);
            out.write(source.readRaw(tensor.name(), pos, n));
        }
    }

    private static void writeEncoded(OutputTensor tensor, float[] values, OutputStream out) throws IOException {
        int perBlock = COPY_BUFFER_BYTES / tensor.dtype().byteSize();
        ByteBuffer buf = ByteBuffer.allocate(perBlock * tensor.dtype().byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int off = 0; off < values.length; off += perBlock) {
            int n = Math.min(perBlock, values.length - off);
            buf.clear();
            TensorCodec.encode(tensor.dtype(), values, off, n, buf);
            out.write(buf.array(), 0, n * tensor.dtype().byteSize());
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
