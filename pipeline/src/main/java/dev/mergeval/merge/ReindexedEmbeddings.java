package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.ForwardingCheckpoint;
import dev.mergeval.checkpoint.TensorCodec;
import dev.mergeval.checkpoint.TensorInfo;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A merge input seen with its embedding and output-head matrices re-indexed to the output
 * vocabulary ({@link VocabularyAlignment}): row {@code t} of such a matrix is the model's row of
 * output token {@code t}, or, where the model lacks the token, the row its donors give (one
 * model's, the base model's, their mean, or zeros). The matrix has the output vocabulary's rows.
 * Rows are assembled as they are read, runs of consecutive rows in one read each, so memory stays
 * what the reader asks for. Every other tensor reads through to the model.
 */
final class ReindexedEmbeddings extends ForwardingCheckpoint {

    private final int index;
    /** Every model of the merge as it stores its rows, in config order (donors are read there). */
    private final List<Checkpoint> all;
    private final List<String> refs;
    private final Supplier<VocabularyAlignment> alignment;
    /** Per input tensor name, the references of the models whose rows may fill a token this one lacks. */
    private final Function<String, Set<String>> donorModels;
    /** Per tensor name, the alignment that re-indexes it, checked against every model's rows once. */
    private final Map<String, Optional<VocabularyAlignment>> checked = new ConcurrentHashMap<>();
    /** Per tensor name, its padding row ({@code pad_to_multiple_of}), in the stored dtype. */
    private final Map<String, byte[]> padding = new ConcurrentHashMap<>();

    /**
     * @param index this model's position in {@code all}
     * @param all every model as stored, by reference in config order
     * @param alignment built once, when an embedding is first read
     * @param donorModels per tensor name, the models (by reference) that may donate a row to it: the
     *     inputs of the output tensors that read it, and the base model
     */
    ReindexedEmbeddings(int index, Map<String, Checkpoint> all, Supplier<VocabularyAlignment> alignment,
            Function<String, Set<String>> donorModels) {
        super(List.copyOf(all.values()).get(index));
        this.all = List.copyOf(all.values());
        this.refs = List.copyOf(all.keySet());
        this.index = index;
        this.alignment = alignment;
        this.donorModels = donorModels;
    }

    /** The alignment where {@code name} is a matrix of token rows that it re-indexes, else null. */
    private VocabularyAlignment aligned(String name) {
        return checked.computeIfAbsent(name, this::check).orElse(null);
    }

    private Optional<VocabularyAlignment> check(String name) {
        if (!EmbeddingRows.isEmbedding(name) || !model.contains(name) || model.info(name).shape().length != 2) {
            return Optional.empty();
        }
        VocabularyAlignment a = alignment.get();
        if (a != null) {
            for (int m = 0; m < all.size(); m++) {
                if (all.get(m).contains(name)) {
                    a.checkRows(m, refs.get(m), name, all.get(m).info(name).shape()[0]);
                }
            }
        }
        return Optional.ofNullable(a);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = model.info(name);
        VocabularyAlignment a = aligned(name);
        if (a == null) {
            return t;
        }
        long[] shape = {a.size(), t.shape()[1]};
        return new TensorInfo(name, t.dtype(), shape, t.begin(),
                t.begin() + a.size() * t.shape()[1] * t.dtype().byteSize());
    }

    @Override
    public void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        VocabularyAlignment a = aligned(name);
        if (a == null) {
            model.readStored(name, byteOffset, dst, dstOff, length);
            return;
        }
        TensorInfo stored = model.info(name);
        long rowBytes = stored.shape()[1] * stored.dtype().byteSize();
        if (byteOffset < 0 || length < 0 || byteOffset + length > a.size() * rowBytes) {
            throw new IndexOutOfBoundsException(name + ": bytes [" + byteOffset + ", " + (byteOffset + length)
                    + ") outside " + a.size() * rowBytes);
        }
        long pos = byteOffset;
        int out = dstOff;
        long end = byteOffset + length;
        while (pos < end) {
            int t = Math.toIntExact(pos / rowBytes);
            long within = pos - t * rowBytes;
            int row = t < a.vocabularyRows() ? a.row(index, t) : -1;
            if (row < 0) {
                int n = (int) Math.min(rowBytes - within, end - pos);
                byte[] bytes = t < a.vocabularyRows() ? defaultRow(a, name, t, stored) : paddingRow(a, name, stored);
                System.arraycopy(bytes, (int) within, dst, out, n);
                pos += n;
                out += n;
                continue;
            }
            // A run of output rows that are consecutive rows of the model: one read.
            int last = t;
            while ((last + 1) * rowBytes < end && last + 1 < a.vocabularyRows()
                    && a.row(index, last + 1) == row + (last + 1 - t)) {
                last++;
            }
            int n = (int) Math.min((last + 1) * rowBytes - pos, end - pos);
            model.readStored(name, row * rowBytes + within, dst, out, n);
            pos += n;
            out += n;
        }
    }

    /**
     * The row of output token {@code t} for this model, which lacks it, in its stored dtype: the
     * mean of the donors' rows (each read as floats, summed in double in config order), rounded once.
     */
    private byte[] defaultRow(VocabularyAlignment a, String name, int t, TensorInfo stored) {
        int columns = Math.toIntExact(stored.shape()[1]);
        double[] sum = new double[columns];
        Set<String> eligible = donorModels.apply(name);
        int[][] donors = a.donors(t, m -> eligible.contains(refs.get(m)));
        float[] row = new float[columns];
        for (int[] donor : donors) {
            all.get(donor[0]).readFloats(name, (long) donor[1] * columns, row, 0, columns);
            for (int j = 0; j < columns; j++) {
                sum[j] += row[j];
            }
        }
        return encoded(sum, donors.length, stored.dtype());
    }

    /**
     * A padding row (at or past the vocabulary's rows): the mean of this model's rows of the
     * vocabulary, as read here, computed once per tensor.
     */
    private byte[] paddingRow(VocabularyAlignment a, String name, TensorInfo stored) {
        return padding.computeIfAbsent(name, n -> {
            int columns = Math.toIntExact(stored.shape()[1]);
            double[] sum = new double[columns];
            float[] row = new float[columns];
            for (int t = 0; t < a.vocabularyRows(); t++) {
                readFloats(n, (long) t * columns, row, 0, columns);
                for (int j = 0; j < columns; j++) {
                    sum[j] += row[j];
                }
            }
            return encoded(sum, a.vocabularyRows(), stored.dtype());
        });
    }

    /** {@code sum / count} per column (zeros for no rows), rounded once to float and encoded as {@code dtype}. */
    private static byte[] encoded(double[] sum, int count, DType dtype) {
        float[] row = new float[sum.length];
        for (int j = 0; j < sum.length; j++) {
            row[j] = count == 0 ? 0f : (float) (sum[j] / count);
        }
        byte[] bytes = new byte[sum.length * dtype.byteSize()];
        TensorCodec.encode(dtype, row, 0, sum.length, bytes, 0);
        return bytes;
    }

    @Override
    public byte[] readRaw(String name, long byteOffset, int length) {
        byte[] out = new byte[length];
        readStored(name, byteOffset, out, 0, length);
        return out;
    }

    @Override
    public void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count) {
        if (aligned(name) == null) {
            model.readFloats(name, elementOffset, dst, dstOff, count);
            return;
        }
        DType dtype = model.info(name).dtype();
        byte[] bytes = readRaw(name, elementOffset * dtype.byteSize(), count * dtype.byteSize());
        TensorCodec.decode(dtype, bytes, 0, dst, dstOff, count);
    }
}
