package dev.mergeval.merge.plan;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.common.Shapes;
import dev.mergeval.merge.ElementwiseKernel;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.StreamedMerge;
import dev.mergeval.merge.TensorMerger;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * Runs one {@link WorkUnit} wherever it is scheduled: reads the byte ranges of its tensors from
 * every input (and from the extra model inputs the method reads for that tensor) through Hadoop
 * FileSystem, merges with the plan's config, resolved parameters and analysis decisions (no YAML is
 * read here), and writes the unit's output bytes. Errors met here name the plan as their source.
 *
 * <p>Where the bytes go depends on how the committer prepared {@code partsDir}: straight into the
 * pre-created shards at their planned offsets ({@link InPlaceShards}, local filesystem), or into
 * the unit's own part file that the committer later copies into the shards (HDFS, object stores).
 *
 * <p>Idempotent either way. A part is written under a unique temporary name and renamed into
 * place, so a retried or speculative attempt never exposes a torn part, and a part already present
 * with the planned length (from an earlier, interrupted run of the same plan) is reused. In place,
 * a unit's completion marker is created after its bytes are written and a unit with a marker is
 * skipped.
 *
 * <p>Memory: chunkable tensors, and tensors of a method with a {@link StreamedMerge} for them, are
 * read {@link MergePlan#chunkElements()} elements per input at a time (for a merge of whole rows,
 * as many rows as fit, at least one) into buffers reused by the thread; other tensors are read
 * whole, one per input. Encoded
 * bytes go out in blocks of {@value #BLOCK_BYTES} bytes.
 */
public final class UnitExecutor {

    private static final int BLOCK_BYTES = 1 << 20;

    /** Elements per decode-merge-encode block of the kernel path: its float arrays fit in 32 KB of L1. */
    private static final int BLOCK_ELEMENTS = 2048;

    /**
     * The merger of the plan whose units this JVM ran last, shared by its units (on Spark, by the
     * tasks of an executor, which share the plan's broadcast object): a {@code slices:} layout's
     * index and the slices' configs are built once per plan, not once per unit.
     */
    private static volatile PlanMerger lastMerger;

    /** A plan's config (named for errors) and its {@link TensorMerger}. */
    private record PlanMerger(MergePlan plan, MergeConfig config, TensorMerger merger) {
        static PlanMerger of(MergePlan plan) {
            PlanMerger last = lastMerger;
            if (last != null && last.plan == plan) {
                return last;
            }
            MergeConfig config = plan.config().withSourceName("plan " + plan.planId());
            last = new PlanMerger(plan, config, TensorMerger.create(config, plan.positions(), plan.analysis(),
                    plan.params(), plan.layout()));
            lastMerger = last;
            return last;
        }
    }

    /** Per-thread buffers: the encode block, and the chunk arrays of each input. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private UnitExecutor() {
    }

    /**
     * Runs {@code unit} of {@code plan}. {@code partsDir} is the staging area's parts directory;
     * when the committer prepared it for in-place writes the unit writes into the shards next to it.
     * For a unit written in place the result's {@code partPath} is null.
     */
    public static UnitResult execute(MergePlan plan, WorkUnit unit, String partsDir, Configuration conf) {
        try {
            Path parts = new Path(partsDir);
            FileSystem fs = HadoopFs.get(parts, conf);
            long expected = plan.unitBytes(unit);
            Path shardsDir = InPlaceShards.shardsDirIfPrepared(fs, parts, plan);
            if (shardsDir != null) {
                return executeInPlace(plan, unit, (RawLocalFileSystem) fs, parts, shardsDir, expected, conf);
            }
            Path part = new Path(partsDir, unit.partName());
            if (fs.exists(part) && fs.getFileStatus(part).getLen() == expected) {
                return new UnitResult(unit.id(), part.toString(), expected, true);
            }
            Path tmp = new Path(partsDir, "_attempts/" + unit.partName() + "." + UUID.randomUUID());
            try (UnitSink sink = new PartSink(fs.create(tmp, true))) {
                merge(plan, unit, sink, conf);
            }
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

    private static UnitResult executeInPlace(MergePlan plan, WorkUnit unit, RawLocalFileSystem fs, Path parts,
            Path shardsDir, long expected, Configuration conf) throws IOException {
        Path done = InPlaceShards.doneMarker(parts, unit);
        if (fs.exists(done)) {
            return new UnitResult(unit.id(), null, expected, true);
        }
        try (UnitSink sink = new InPlaceShards.Sink(fs, shardsDir, plan)) {
            merge(plan, unit, sink, conf);
        }
        fs.create(done, true).close();
        return new UnitResult(unit.id(), null, expected, false);
    }

    private static void merge(MergePlan plan, WorkUnit unit, UnitSink sink, Configuration conf) throws IOException {
        PlanMerger planMerger = PlanMerger.of(plan);
        MergeConfig config = planMerger.config();
        TensorMerger merger = planMerger.merger();
        Scratch scratch = SCRATCH.get();
        try (MergeInputs inputs = MergeInputs.openFor(plan, config, plan.modelUris(), plan.extraUris(), conf)
                .ofPlan(plan.planId())) {
            for (TensorSlice slice : unit.slices()) {
                OutputTensor tensor = plan.tensor(slice.tensor());
                int size = tensor.dtype().byteSize();
                Map<String, String> sources = merger.inputs(tensor.name());
                if (!tensor.merged()) {
                    String first = sources.keySet().iterator().next();
                    copyRaw(inputs.models().get(first), sources.get(first), tensor, slice, sink);
                    continue;
                }
                List<String> extras = merger.extrasFor(tensor.name());
                ElementwiseKernel kernel = merger.kernel(tensor.name());
                if (kernel != null) {
                    mergeWithKernel(plan, inputs, sources, extras, tensor, slice, kernel, scratch, sink);
                    continue;
                }
                StreamedMerge streamed = merger.streamed(tensor.name(), tensor.shape(), plan.seed());
                if (streamed != null) {
                    mergeStreamed(plan, inputs, sources, tensor, slice, streamed, scratch, sink);
                    continue;
                }
                boolean chunked = merger.chunkable(tensor.name());
                int step = chunked ? plan.chunkElements() : Math.toIntExact(slice.elementCount());
                for (long done = 0; done < slice.elementCount(); done += step) {
                    int n = (int) Math.min(step, slice.elementCount() - done);
                    long offset = slice.elementOffset() + done;
                    Map<String, float[]> values = new LinkedHashMap<>();
                    int i = 0;
                    for (Map.Entry<String, String> source : sources.entrySet()) {
                        float[] buf = scratch.floats(i++, n, plan.chunkElements());
                        inputs.read(source.getKey(), source.getValue(), offset, buf, n);
                        values.put(source.getKey(), buf);
                    }
                    Map<String, float[]> extraValues = new LinkedHashMap<>();
                    for (String parameter : extras) {
                        float[] buf = scratch.floats(i++, n, plan.chunkElements());
                        inputs.read(parameter, tensor.name(), offset, buf, n);
                        extraValues.put(parameter, buf);
                    }
                    float[] merged = merger.merge(tensor.name(), tensor.shape(), offset, values, extraValues, plan.seed());
                    writeEncoded(tensor, merged, merged.length, offset * size, scratch.block, sink);
                }
            }
        }
    }

    /**
     * The fast path of an element-wise method with an {@link ElementwiseKernel}: see
     * {@link #mergeBlocks}; BF16 in and out with a {@link ElementwiseKernel.Bf16} kernel, a chunk's
     * stored bytes straight into the output bytes.
     */
    private static void mergeWithKernel(MergePlan plan, MergeInputs inputs, Map<String, String> sources,
            List<String> extras, OutputTensor tensor, TensorSlice slice, ElementwiseKernel kernel, Scratch scratch,
            UnitSink sink) throws IOException {
        StoredChunks in = new StoredChunks(inputs, sources, extras, tensor.name(), plan.chunkElements(),
                BLOCK_ELEMENTS, scratch);
        if (kernel instanceof ElementwiseKernel.Bf16 fused && in.allOf(DType.BF16) && tensor.dtype() == DType.BF16) {
            byte[] out = scratch.bytes(in.raw.length, in.chunk * DType.BF16.byteSize());
            for (long done = 0; done < slice.elementCount(); done += in.chunk) {
                int n = (int) Math.min(in.chunk, slice.elementCount() - done);
                long offset = slice.elementOffset() + done;
                in.read(offset, n);
                fused.mergeBf16(in.raw, n, out);
                sink.write(tensor, offset * DType.BF16.byteSize(), ByteBuffer.wrap(out, 0, n * DType.BF16.byteSize()));
            }
            return;
        }
        mergeBlocks(in, tensor, slice, (x, offset, n, y) -> kernel.merge(x, n, y), scratch, sink);
    }

    /**
     * A tensor merged by its {@link StreamedMerge}: the passes it asks for, each over the whole
     * tensor block by block as {@link #mergeBlocks} reads it, then the merge by {@link #mergeBlocks}.
     * A merge of whole rows gets blocks (and chunks) of as many whole rows as fit the plan's chunk
     * size, at least one. Memory stays a chunk's worth however large the tensor.
     */
    private static void mergeStreamed(MergePlan plan, MergeInputs inputs, Map<String, String> sources,
            OutputTensor tensor, TensorSlice slice, StreamedMerge streamed, Scratch scratch, UnitSink sink)
            throws IOException {
        if (slice.elementOffset() != 0 || slice.elementCount() != Shapes.numElements(tensor.shape())) {
            throw new IllegalStateException(tensor.name() + ": a streamed merge needs the whole tensor in one unit");
        }
        int row = streamed.rowLength();
        int rows = Math.toIntExact(Math.max(1, plan.chunkElements() / row) * (long) row);
        StoredChunks in = row > 1 ? new StoredChunks(inputs, sources, List.of(), tensor.name(), rows, rows, scratch)
                : new StoredChunks(inputs, sources, List.of(), tensor.name(), plan.chunkElements(), BLOCK_ELEMENTS,
                        scratch);
        long total = slice.elementCount();
        while (streamed.needsPass()) {
            for (long done = 0; done < total; done += in.chunk) {
                int n = (int) Math.min(in.chunk, total - done);
                in.read(done, n);
                for (int b = 0; b < n; b += in.block) {
                    int nb = Math.min(in.block, n - b);
                    streamed.observe(in.decode(b, nb), done + b, nb);
                }
            }
            streamed.endPass();
        }
        mergeBlocks(in, tensor, slice, streamed::merge, scratch, sink);
    }

    /** Merges {@code n} elements of the inputs, the first at flat element {@code offset}, into {@code out}. */
    @FunctionalInterface
    private interface BlockMerge {
        void merge(float[][] inputs, long offset, int n, float[] out);
    }

    /**
     * Each chunk is read as stored bytes into the thread's arrays, then decoded, merged and encoded
     * block by block (for most merges {@value #BLOCK_ELEMENTS} elements, which stay in the core's
     * first-level cache) into the thread's output bytes, which go out in one write. Nothing is
     * allocated per chunk, and no chunk-sized float array is written and read back.
     */
    private static void mergeBlocks(StoredChunks in, OutputTensor tensor, TensorSlice slice, BlockMerge merge,
            Scratch scratch, UnitSink sink) throws IOException {
        DType outType = tensor.dtype();
        int outSize = outType.byteSize();
        float[] y = in.merged;
        byte[] out = scratch.bytes(in.blocks.length, in.chunk * outSize);
        long total = slice.elementCount();
        for (long done = 0; done < total; done += in.chunk) {
            int n = (int) Math.min(in.chunk, total - done);
            long offset = slice.elementOffset() + done;
            in.read(offset, n);
            for (int b = 0; b < n; b += in.block) {
                int nb = Math.min(in.block, n - b);
                merge.merge(in.decode(b, nb), offset + b, nb, y);
                TensorCodec.encode(outType, y, 0, nb, out, b * outSize);
            }
            sink.write(tensor, offset * outSize, ByteBuffer.wrap(out, 0, n * outSize));
        }
    }

    /**
     * The inputs of one tensor (the models', then the extra inputs'), read as stored bytes a chunk
     * at a time into the thread's byte arrays and decoded a block at a time into the thread's block
     * arrays, with the thread's array for a merged block.
     */
    private static final class StoredChunks {
        final int chunk;
        final int block;
        final float[][] blocks;
        final float[] merged;
        private final Checkpoint[] from;
        private final String[] names;
        private final DType[] types;
        final byte[][] raw;

        /**
         * {@code extras}: the extra inputs' parameters, each read at {@code tensor};
         * {@code block}: {@value #BLOCK_ELEMENTS}, or the whole chunk.
         */
        StoredChunks(MergeInputs inputs, Map<String, String> sources, List<String> extras, String tensor, int chunk,
                int block, Scratch scratch) {
            int m = sources.size() + extras.size();
            this.chunk = chunk;
            this.block = block;
            this.from = new Checkpoint[m];
            this.names = new String[m];
            this.types = new DType[m];
            this.raw = new byte[m][];
            this.blocks = new float[m][];
            int k = 0;
            for (Map.Entry<String, String> source : sources.entrySet()) {
                from[k] = inputs.models().get(source.getKey());
                names[k++] = source.getValue();
            }
            for (String parameter : extras) {
                inputs.checkExtra(parameter, tensor);
                from[k] = inputs.extras().get(parameter);
                names[k++] = tensor;
            }
            for (k = 0; k < m; k++) {
                types[k] = from[k].info(names[k]).dtype();
                raw[k] = scratch.bytes(k, chunk * types[k].byteSize());
                blocks[k] = blockArray(scratch, k);
            }
            this.merged = blockArray(scratch, m);
        }

        private float[] blockArray(Scratch scratch, int slot) {
            return block == BLOCK_ELEMENTS ? scratch.block(slot) : scratch.floats(slot, block, block);
        }

        /** Whether every input is stored as {@code dtype}. */
        boolean allOf(DType dtype) {
            return Arrays.stream(types).allMatch(t -> t == dtype);
        }

        /** Reads the stored bytes of elements {@code [offset, offset + n)}, {@code n <= chunk}. */
        void read(long offset, int n) {
            for (int k = 0; k < from.length; k++) {
                int size = types[k].byteSize();
                from[k].readStored(names[k], offset * size, raw[k], 0, n * size);
            }
        }

        /** Decodes elements {@code [b, b + nb)} of the chunk read last into the block arrays (returned). */
        float[][] decode(int b, int nb) {
            for (int k = 0; k < from.length; k++) {
                TensorCodec.decode(types[k], raw[k], b * types[k].byteSize(), blocks[k], 0, nb);
            }
            return blocks;
        }
    }

    private static void copyRaw(Checkpoint source, String name, OutputTensor tensor, TensorSlice slice,
            UnitSink sink) throws IOException {
        int size = tensor.dtype().byteSize();
        long begin = slice.elementOffset() * size;
        long end = begin + slice.elementCount() * size;
        for (long pos = begin; pos < end; pos += BLOCK_BYTES) {
            int n = (int) Math.min(BLOCK_BYTES, end - pos);
            sink.write(tensor, pos, ByteBuffer.wrap(source.readRaw(name, pos, n)));
        }
    }

    /** Encodes {@code values[0..count)} into the tensor's dtype and writes them at {@code tensorByteOffset}. */
    private static void writeEncoded(OutputTensor tensor, float[] values, int count, long tensorByteOffset,
            ByteBuffer block, UnitSink sink) throws IOException {
        int size = tensor.dtype().byteSize();
        int perBlock = block.capacity() / size;
        long pos = tensorByteOffset;
        for (int off = 0; off < count; off += perBlock) {
            int n = Math.min(perBlock, count - off);
            block.clear();
            TensorCodec.encode(tensor.dtype(), values, off, n, block);
            block.flip();
            sink.write(tensor, pos, block);
            pos += (long) n * size;
        }
    }

    /**
     * A thread's reusable buffers. Chunk arrays are kept only up to the plan's chunk size, so a
     * long-lived thread never holds on to whole-tensor arrays.
     */
    private static final class Scratch {
        final ByteBuffer block = ByteBuffer.allocateDirect(BLOCK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        float[][] chunks = new float[0][];
        float[][] blocks = new float[0][];
        byte[][] bytes = new byte[0][];

        /**
         * An array of exactly {@code n} elements for input {@code input} (merge methods take the
         * length from it): the thread's own for a full chunk, a new one otherwise.
         */
        float[] floats(int input, int n, int chunkElements) {
            if (input >= chunks.length) {
                chunks = Arrays.copyOf(chunks, input + 1);
            }
            if (n != chunkElements) {
                return new float[n];
            }
            if (chunks[input] == null || chunks[input].length != n) {
                chunks[input] = new float[n];
            }
            return chunks[input];
        }

        /** The thread's block array {@code slot}, {@value #BLOCK_ELEMENTS} elements. */
        float[] block(int slot) {
            if (slot >= blocks.length) {
                blocks = Arrays.copyOf(blocks, slot + 1);
            }
            if (blocks[slot] == null) {
                blocks[slot] = new float[BLOCK_ELEMENTS];
            }
            return blocks[slot];
        }

        /** The thread's byte array {@code slot} of at least {@code n} bytes, kept for the next chunk. */
        byte[] bytes(int slot, int n) {
            if (slot >= bytes.length) {
                bytes = Arrays.copyOf(bytes, slot + 1);
            }
            if (bytes[slot] == null || bytes[slot].length < n) {
                bytes[slot] = new byte[n];
            }
            return bytes[slot];
        }
    }

    /** Appends to a part file, whose order is the unit's slice order. */
    private static final class PartSink implements UnitSink {
        private final OutputStream out;
        private final byte[] copy = new byte[BLOCK_BYTES];

        PartSink(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(OutputTensor tensor, long tensorByteOffset, ByteBuffer bytes) throws IOException {
            while (bytes.hasRemaining()) {
                int n = Math.min(copy.length, bytes.remaining());
                bytes.get(copy, 0, n);
                out.write(copy, 0, n);
            }
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
