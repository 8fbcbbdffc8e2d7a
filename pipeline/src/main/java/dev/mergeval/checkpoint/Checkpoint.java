package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * A model checkpoint read tensor by tensor through the Hadoop FileSystem API. Reads are ranged:
 * only the bytes of the requested elements are read. Implementations are thread-safe for reads
 * (positional reads on one stream per shard) and must be closed.
 */
public interface Checkpoint extends AutoCloseable {

    /**
     * Opens a checkpoint. {@code uri} is a Hadoop path ({@code /x}, {@code file:///x},
     * {@code hdfs://nn/x}, {@code s3a://bucket/x}) naming one of:
     * <ul>
     *   <li>a directory with {@code model.safetensors.index.json} (sharded) or
     *       {@code model.safetensors};</li>
     *   <li>a {@code .safetensors} file, or a {@code model.safetensors.index.json} file;</li>
     *   <li>mergekit's {@code BASE+ADAPTER}: the LoRA-merged view of {@link LoraCheckpoint}. The
     *       string is split at a {@code '+'} only when it does not name an existing path itself
     *       and the part after that {@code '+'} is a directory holding {@code adapter_config.json};
     *       the rightmost such {@code '+'} wins, so a base path may contain {@code '+'}.</li>
     * </ul>
     * PyTorch pickles ({@code .bin}, {@code .pt}, {@code .pth}, {@code .ckpt}, {@code .pkl}) are
     * refused: unpickling runs arbitrary code.
     *
     * @throws BadInputException if the path is missing, malformed or of a refused kind
     */
    static Checkpoint open(String uri, Configuration conf) {
        return CheckpointResolver.open(uri, conf);
    }

    /**
     * {@link #open} for a task of {@code job} (a merge plan, an analysis, an extraction plan: the
     * value every task of the job shares in a JVM, compared by identity): the first task of the job
     * in this JVM opens the checkpoint, the later ones get it {@link #reopen reopened}, reading no
     * header, index, config or adapter again. A unit of a 70B merge on S3 would otherwise make a
     * request or two for each shard of each input before its first byte, and read a LoRA adapter
     * whole; the files must not change while the job runs, as its plan assumes anyway.
     */
    static Checkpoint openFor(Object job, String uri, Configuration conf) {
        return JobCheckpoints.open(job, uri, conf);
    }

    /**
     * The paths {@code uri} names, by {@link #adapterSplit}: itself, or a {@code BASE+ADAPTER}'s two.
     *
     * @throws BadInputException where it names nothing ({@link #adapterSplit})
     */
    static List<String> paths(String uri, Configuration conf) {
        int plus = adapterSplit(uri, conf);
        return plus < 0 ? List.of(uri) : List.of(uri.substring(0, plus), uri.substring(plus + 1));
    }

    /**
     * Where {@link #open} splits {@code uri} into mergekit's {@code BASE+ADAPTER}: the index of that
     * {@code '+'}, or -1 when {@code uri} names a path itself, so that callers classify a location
     * by the very rule that opens it.
     *
     * @throws BadInputException when it names no path and no {@code '+'} is followed by an adapter
     *                           directory (the message {@link #open} gives)
     */
    static int adapterSplit(String uri, Configuration conf) {
        return CheckpointResolver.adapterSplit(uri, conf);
    }

    /** The location as given to {@link #open}. */
    String location();

    /** The model directory (fully qualified URI); for a single file, its parent. */
    String root();

    /** Tensor names: shard order (by file name), then data-section offset within a shard. */
    List<String> tensorNames();

    /** True if the checkpoint has a tensor called {@code name}. */
    boolean contains(String name);

    /**
     * The tensor's dtype, shape and span in its shard.
     *
     * @throws BadInputException if there is no such tensor
     */
    TensorInfo info(String name);

    /** The shard file holding {@code name}. */
    ShardFile shardOf(String name);

    /**
     * Reads elements {@code [elementOffset, elementOffset+count)} (row-major) of {@code name},
     * converted to float32, into {@code dst[dstOff..]}.
     *
     * @throws BadInputException for an unknown tensor or a dtype without a float32 conversion
     * @throws IndexOutOfBoundsException if the range is not inside the tensor
     */
    void readFloats(String name, long elementOffset, float[] dst, int dstOff, int count);

    /** Like {@link #readFloats(String, long, float[], int, int)}, into a new array. */
    default float[] readFloats(String name, long elementOffset, int count) {
        float[] out = new float[count];
        readFloats(name, elementOffset, out, 0, count);
        return out;
    }

    /**
     * The whole tensor as float32.
     *
     * @throws BadInputException if it has more than {@code Integer.MAX_VALUE - 8} elements
     */
    default float[] readFloats(String name) {
        long n = info(name).numElements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new BadInputException("tensor '" + name + "' has " + n
                    + " elements, too many for one array; read it in ranges");
        }
        return readFloats(name, 0, (int) n);
    }

    /**
     * Bytes {@code [byteOffset, byteOffset+length)} of the tensor's stored data, as stored
     * (little-endian); for dtypes carried through unchanged.
     */
    byte[] readRaw(String name, long byteOffset, int length);

    /**
     * {@link #readRaw} into {@code dst[dstOff..]}, without allocating where the bytes are read
     * from a file: the hot path of element-wise merges. Decoding them gives exactly
     * {@link #readFloats}, also for a LoRA adapter applied on load (its effective weights are
     * rounded to the base dtype, which is what it encodes).
     */
    default void readStored(String name, long byteOffset, byte[] dst, int dstOff, int length) {
        System.arraycopy(readRaw(name, byteOffset, length), 0, dst, dstOff, length);
    }

    /** The files this checkpoint reads, in shard order. */
    List<ShardFile> shardFiles();

    /** {@code config.json} of the model directory, or null if there is none (a copy). */
    ObjectNode config();

    /** The {@code __metadata__} of the first shard (empty if none). */
    Map<String, String> metadata();

    /**
     * A checkpoint over the same files as this one as {@link #open} opened it, with its own streams,
     * opened as each shard is first read: nothing is read again (headers, configs, an adapter's
     * factors), so the files must be the ones this checkpoint read, as they are for the tasks of
     * one job ({@link #openFor}). Closing either leaves the other open.
     *
     * @throws UnsupportedOperationException for a view that {@link #open} does not give
     */
    default Checkpoint reopen() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is not reopened");
    }

    @Override
    void close();
}
